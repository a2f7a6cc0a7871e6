"""Stage 5: printer profiles, orientation, scale and placement on the bed."""
from fabricate.printing.fit import FitReport, fit_to_build_volume, inside_build_volume, with_colours_of
from fabricate.printing.profiles import PrinterProfile, get_printer, list_printers

__all__ = ["PrinterProfile", "get_printer", "list_printers", "fit_to_build_volume", "inside_build_volume",
           "FitReport", "with_colours_of"]
