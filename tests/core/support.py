# Helpers for core tests. Runs on CPython (pytest) and on MicroPython (tests/mp runner), so it uses
# only what both have: no pytest, no typing at run time.


def raises(exc_type: type[BaseException], fn: object, *args: object, **kwargs: object) -> BaseException:
    # Call fn(*args, **kwargs), require it to raise exc_type, and return the exception for further checks.
    try:
        fn(*args, **kwargs)  # type: ignore[operator]
    except exc_type as exc:
        return exc
    raise AssertionError(f"expected {exc_type.__name__} from {fn!r}{args!r}")


def names_field(exc: BaseException, field: str, value: object) -> bool:
    # True when the error names the field and the value, as every error of the core must.
    text = str(exc)
    return field in text and repr(value) in text
