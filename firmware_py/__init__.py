# itb core: dosing arithmetic, schedules, the drug library, the program codec, the wire protocol and
# the rig state machine. Runs unchanged on CPython and MicroPython: import only what MicroPython's
# standard library has, keep every quantity an int in the base unit its name states (ng, nL, s).

# The one version of itb: the wheel (pyproject's dynamic version), the host tools, the rig's `fw=` (ID),
# and the mip package (firmware_py/package.json) all read it from here.
__version__ = "0.2.0"
