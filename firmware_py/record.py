# Base of the small result records the core returns: plain classes with __slots__ and a readable repr
# (MicroPython has no dataclasses).


class Record:
    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        parts = []
        for name in self.__slots__:
            parts.append(name + "=" + repr(getattr(self, name)))
        return type(self).__name__ + "(" + ", ".join(parts) + ")"
