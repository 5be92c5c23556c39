# MicroPython-side test runner for tests/core (it also runs on CPython).
#
# run(modules) imports each module, calls every module-level function whose name starts with "test"
# (pytest's default rule) in name order, and prints one line per test:
#   PASS <module>::<name>
#   FAIL <module>::<name> <message>           an AssertionError
#   ERROR <module>::<name> <Type>: <message>  any other exception (<import> when the module fails)
# followed, for FAIL and ERROR, by the traceback as lines starting with "  | ", and at the end by
#   SUMMARY passed=<n> failed=<n> errors=<n> total=<n>
# import_all(modules) prints "IMPORT OK <module>" or "IMPORT ERROR <module> <Type>: <message>" for each.
# Messages are kept on one line. Only what MicroPython's stdlib has is used.

import io
import sys


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _trace(exc: BaseException) -> None:
    if hasattr(sys, "print_exception"):
        buf = io.StringIO()
        sys.print_exception(exc, buf)
        text = buf.getvalue()
    else:
        import traceback  # noqa: PLC0415 -- CPython only; MicroPython has no traceback module

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    for line in text.split("\n"):
        if line:
            print("  | " + line)


def _import(name: str) -> object:
    mod = __import__(name)
    for part in name.split(".")[1:]:
        mod = getattr(mod, part)
    return mod


def _is_function(obj: object) -> bool:
    return type(obj).__name__ == "function"


def import_all(modules: list[str]) -> bool:
    ok = True
    for name in modules:
        try:
            _import(name)
        except Exception as exc:
            ok = False
            print("IMPORT ERROR " + name + " " + type(exc).__name__ + ": " + _one_line(str(exc)))
        else:
            print("IMPORT OK " + name)
    return ok


def run(modules: list[str]) -> bool:
    passed = failed = errors = 0
    for name in modules:
        try:
            mod = _import(name)
        except Exception as exc:
            errors += 1
            print("ERROR " + name + "::<import> " + type(exc).__name__ + ": " + _one_line(str(exc)))
            _trace(exc)
            continue
        for attr in sorted(dir(mod)):
            fn = getattr(mod, attr)
            if not attr.startswith("test") or not _is_function(fn):
                continue
            test_id = name + "::" + attr
            try:
                fn()
            except AssertionError as exc:
                failed += 1
                print("FAIL " + test_id + " " + _one_line(str(exc)))
                _trace(exc)
            except Exception as exc:
                errors += 1
                print("ERROR " + test_id + " " + type(exc).__name__ + ": " + _one_line(str(exc)))
                _trace(exc)
            else:
                passed += 1
                print("PASS " + test_id)
    total = passed + failed + errors
    print(f"SUMMARY passed={passed} failed={failed} errors={errors} total={total}")
    return failed + errors == 0
