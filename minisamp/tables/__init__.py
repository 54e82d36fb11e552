"""Tables and images as files for SAMP: the only place astropy and numpy are used.

``files`` turns a table (astropy ``Table``, ``VOTableFile`` or an existing file) into a
private file and its ``file:`` URL, says when FITS is worth it, and reads what a
``table.load.*`` or ``image.load.fits`` message points to; ``votable`` writes VOTables
fast (BINARY2, its row encoder in ``binary2``); ``fits`` writes the same columns as a
FITS BINTABLE behind ``fitsplus``'s primary HDU (STIL's FITS-plus: VOTable metadata);
``filetypes`` tells the MType for a file by its name and first bytes.

May import: the shared modules; astropy and numpy only inside the functions that need
them, never at import.  Must never import: ``client``, ``hub``, ``xmlrpc``, the helpers
or the command line.
"""

from .files import (
    FITS_MIN_BYTES,
    TableFile,
    accessible_table,
    fits_worthwhile,
    prepare_table,
    private_directory,
    read_image,
    read_table,
    table_mtype,
    write_votable,
)
from .fits import write_fits

__all__ = [
    "FITS_MIN_BYTES",
    "TableFile",
    "accessible_table",
    "fits_worthwhile",
    "prepare_table",
    "private_directory",
    "read_image",
    "read_table",
    "table_mtype",
    "write_fits",
    "write_votable",
]
