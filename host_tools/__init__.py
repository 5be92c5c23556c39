"""Host side of itb: pint-checked calculations, prescriptions, the `itb` command, the rig link and reports.

Everything here runs on CPython only and imports firmware_py for the arithmetic; firmware_py never imports
host_tools. The version is firmware_py's: one version for the package, the host tools and the rig.
"""

from firmware_py import __version__

__all__ = ["__version__"]
