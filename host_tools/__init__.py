"""Host side of itb: pint-checked calculations, prescriptions, the `itb` command, the rig link and reports.

Everything here runs on CPython only and imports firmware_py for the arithmetic; firmware_py never imports
host_tools.
"""
