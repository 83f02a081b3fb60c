"""An incremental Server-Sent Events parser (WHATWG rules) that also records how each message was framed.

Feed it raw chunks as they arrive; it yields complete messages with their fields, raw bytes, line
endings and the chunks they spanned, and keeps what was left unterminated when reading stopped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

BOM = b"\xef\xbb\xbf"
LF, CR, CRLF = "\n", "\r", "\r\n"
KNOWN_FIELDS = frozenset({"event", "data", "id", "retry"})


@dataclass
class Frame:
    """One message: what a WHATWG parser dispatches plus how it looked on the wire."""

    event: str
    data: str
    dispatched: bool
    id: str | None
    retry: int | None
    fields: list[tuple[str, str]]
    comments: list[str]
    raw: bytes
    line_endings: Counter[str]
    first_chunk: int
    last_chunk: int
    received_at: float
    invalid_utf8: bool = False

    @property
    def field_names(self) -> list[str]:
        """The names of the field lines, in order (comments excluded)."""
        return [name for name, _ in self.fields]

    @property
    def unknown_fields(self) -> list[str]:
        """Field names the SSE standard does not define (a parser ignores them)."""
        return [name for name, _ in self.fields if name not in KNOWN_FIELDS]


@dataclass
class _Builder:
    fields: list[tuple[str, str]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)
    endings: Counter[str] = field(default_factory=Counter)
    first_chunk: int | None = None
    invalid_utf8: bool = False


class SSEReader:
    """Parse an event stream chunk by chunk.

    `feed(chunk, at)` returns the messages completed by that chunk; `chunks` keeps every chunk with
    its arrival time; `unterminated` holds the bytes of a message still open when reading stopped.
    """

    def __init__(self) -> None:
        self.chunks: list[tuple[float, bytes]] = []
        self.line_endings: Counter[str] = Counter()
        self.last_event_id: str | None = None
        self._pending = bytearray()
        self._builder = _Builder()
        self._started = False
        self._after_cr = False
        self.stray_blank_lines = 0
        self._line_start: int | None = None
        # Where the last line's ending was recorded, so a CR completed to CRLF by the next chunk is fixed there.
        self._last_ending: tuple[Counter[str], bytearray | Frame | None] | None = None

    @property
    def unterminated(self) -> bytes:
        """Raw bytes of the message (or line) that had not ended when reading stopped."""
        return bytes(self._builder.raw) + bytes(self._pending)

    def feed(self, chunk: bytes, at: float) -> list[Frame]:
        """Consume one chunk received at monotonic time `at`; return the messages it completed."""
        index = len(self.chunks)
        self.chunks.append((at, chunk))
        data = bytes(chunk)
        if not self._started:
            self._pending += data
            if len(self._pending) < len(BOM) and BOM.startswith(bytes(self._pending)):
                return []
            data = bytes(self._pending).removeprefix(BOM)
            self._pending = bytearray()
            self._started = True
        frames: list[Frame] = []
        if self._after_cr and data.startswith(b"\n"):
            # The CR that ended the previous chunk was the first half of a CRLF.
            self._amend_crlf()
            data = data[1:]
        self._after_cr = False
        if data and not self._pending:
            self._line_start = index
        self._pending += data
        while True:
            start = self._line_start
            line, ending = self._next_line()
            if ending is None:
                break
            # Bytes left after a complete line can only have come with this chunk.
            self._line_start = index if self._pending else None
            frame = self._line(line, ending, index if start is None else start, index, at)
            if frame is not None:
                frames.append(frame)
        return frames

    def _next_line(self) -> tuple[bytes, str | None]:
        buffer = self._pending
        cr, lf = buffer.find(b"\r"), buffer.find(b"\n")
        if cr == -1 and lf == -1:
            return b"", None
        if lf != -1 and (cr == -1 or lf < cr):
            line, ending, size = bytes(buffer[:lf]), LF, lf + 1
        elif cr + 1 < len(buffer) and buffer[cr + 1] == 0x0A:
            line, ending, size = bytes(buffer[:cr]), CRLF, cr + 2
        else:
            # A trailing CR may still become CRLF with the next chunk; it ends the line either way.
            line, ending, size = bytes(buffer[:cr]), CR, cr + 1
            self._after_cr = cr + 1 == len(buffer)
        del buffer[:size]
        return line, ending

    def _amend_crlf(self) -> None:
        self.line_endings[CR] -= 1
        self.line_endings[CRLF] += 1
        if self._last_ending is not None:
            endings, owner = self._last_ending
            endings[CR] -= 1
            endings[CRLF] += 1
            if isinstance(owner, Frame):
                owner.raw += b"\n"
            elif owner is not None:
                owner += b"\n"

    def _line(self, line: bytes, ending: str, started: int, chunk: int, at: float) -> Frame | None:
        self.line_endings[ending] += 1
        builder = self._builder
        if builder.first_chunk is None:
            builder.first_chunk = started
        builder.raw += line + ending.encode()
        builder.endings[ending] += 1
        self._last_ending = (builder.endings, builder.raw)
        if line:
            self._field(line)
            return None
        if not builder.fields and not builder.comments:
            # A blank line with nothing before it ends no message.
            self.stray_blank_lines += 1
            self._builder = _Builder()
            self._last_ending = (Counter(), None)
            return None
        frame = self._dispatch(chunk, at)
        self._builder = _Builder()
        self._last_ending = (frame.line_endings, frame)
        return frame

    def _field(self, line: bytes) -> None:
        builder = self._builder
        text = line.decode("utf-8", errors="replace")
        if "\ufffd" in text and "\ufffd".encode() not in line:
            builder.invalid_utf8 = True
        if text.startswith(":"):
            builder.comments.append(text[1:])
            return
        name, sep, value = text.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        builder.fields.append((name, value))

    def _dispatch(self, chunk: int, at: float) -> Frame:
        builder = self._builder
        data_lines: list[str] = []
        event = ""
        retry: int | None = None
        frame_id: str | None = None
        for name, value in builder.fields:
            if name == "data":
                data_lines.append(value)
            elif name == "event":
                event = value
            elif name == "id" and "\0" not in value:
                frame_id = value
                self.last_event_id = value
            elif name == "retry" and value.isascii() and value.isdigit():
                retry = int(value)
        return Frame(
            event=event or "message",
            data="\n".join(data_lines),
            dispatched=bool(data_lines),
            id=frame_id,
            retry=retry,
            fields=list(builder.fields),
            comments=list(builder.comments),
            raw=bytes(builder.raw),
            line_endings=Counter(builder.endings),
            first_chunk=builder.first_chunk if builder.first_chunk is not None else chunk,
            last_chunk=chunk,
            received_at=at,
            invalid_utf8=builder.invalid_utf8,
        )
