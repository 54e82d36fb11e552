import java.util.BitSet;
import java.util.Map;
import javax.swing.ListModel;
import javax.swing.SwingUtilities;
import org.astrogrid.samp.Message;
import org.astrogrid.samp.Response;
import org.astrogrid.samp.client.HubConnection;
import uk.ac.starlink.topcat.BitsRowSubset;
import uk.ac.starlink.topcat.ControlWindow;
import uk.ac.starlink.topcat.Driver;
import uk.ac.starlink.topcat.RowSubset;
import uk.ac.starlink.topcat.SortOrder;
import uk.ac.starlink.topcat.TopcatModel;
import uk.ac.starlink.topcat.interop.SampCommunicator;
import uk.ac.starlink.topcat.interop.TopcatSampControl;

/**
 * TOPCAT itself, started as its Driver starts it ({@code -samp -nohub}), made to do what
 * a user does with the mouse: once a table has arrived over SAMP, sort its view on a
 * column (descending), define a subset of rows and "Transmit Subset" it, then activate a
 * row so it is "Transmitted".  The messages are built by TOPCAT's own code
 * ({@code TopcatSampControl.createSubsetMessage} / {@code createRowMessage}) and sent as
 * calls to the client called {@code args[0]}; each message and answer is printed.
 *
 * Usage: {@code java -cp starlink-topcat.jar TopcatTransmits NAME ROWS ROW SORTCOLUMN}
 * with ROWS like {@code 0,2,4} (rows as loaded) and ROW one row to highlight.
 */
public class TopcatTransmits {

    public static void main(String[] args) throws Exception {
        String recipientName = args[0];
        BitSet mask = new BitSet();
        for (String part : args[1].split(",")) {
            mask.set(Integer.parseInt(part.trim()));
        }
        long highlight = Long.parseLong(args[2]);
        int sortColumn = Integer.parseInt(args[3]);

        Driver.main(new String[] {"-samp", "-nohub"});
        ControlWindow window = ControlWindow.getInstance();
        TopcatModel model = null;
        while (model == null) {
            ListModel<TopcatModel> tables = window.getTablesListModel();
            if (tables.getSize() > 0) {
                model = tables.getElementAt(0);
            } else {
                Thread.sleep(100);
            }
        }
        final TopcatModel table = model;
        SwingUtilities.invokeAndWait(() -> table.sortBy(
            new SortOrder(table.getColumnModel().getColumn(sortColumn)), true));
        System.out.println("SORTED-VIEW " + java.util.Arrays.toString(
            table.getViewModel().getRowMap()));

        SampCommunicator communicator = (SampCommunicator) window.getCommunicator();
        TopcatSampControl control = communicator.getSampControl();
        HubConnection connection = communicator.getConnector().getConnection();
        String recipient = null;
        while (recipient == null) {
            Map<?, ?> listening = connection.getSubscribedClients("table.select.rowList");
            for (Object id : listening.keySet()) {
                if (recipientName.equals(connection.getMetadata((String) id).getName())) {
                    recipient = (String) id;
                }
            }
            if (recipient == null) {
                Thread.sleep(100);
            }
        }
        RowSubset subset = new BitsRowSubset("picked", mask);
        Map<?, ?> select = control.createSubsetMessage(table, subset);
        Response selected = connection.callAndWait(recipient, select, 60);
        System.out.println("SELECT " + select + " -> " + selected);
        Message row = control.createRowMessage(table, highlight);
        Response highlighted = connection.callAndWait(recipient, row, 60);
        System.out.println("HIGHLIGHT " + row + " -> " + highlighted);
        System.exit(selected.isOK() && highlighted.isOK() ? 0 : 1);
    }
}
