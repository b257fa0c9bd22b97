"""The control channel of a simulated device: the profile's operator actions, performed on the model.

A real device is acted on by a person or a lab rig (weights, a switchable socket, a card); a simulated
one by this channel, so the harness can certify the simulator exactly as it certifies a foreign device:
its wire plus its actions.  Vocabulary: the profile's ``actions.toml`` (:mod:`profiles.actions`).

* :class:`ScaleControl` / :class:`ReaderControl`: ``perform(name, params) -> result`` (JSON-able, ``None``
  for most actions), under the device runner's lock; raises :class:`ControlError` (zh, en, code).
* :class:`ControlServer`: JSON lines on TCP 127.0.0.1.  Request ``{"action": NAME, "params": {...}}``,
  answer ``{"ok": true, "result": ...}`` or ``{"ok": false, "code": "unknown-action" | "bad-params" |
  "refused" | "bad-request", "zh": ..., "en": ...}``.  One request per line; a line longer than
  :data:`MAX_LINE` bytes is refused; each connection is served by its own (daemon) thread.
* :func:`send_action`: one request, bounded by ``timeout``; raises :class:`ControlUnreachable` when the
  channel cannot be reached or does not answer in time.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from contextlib import nullcontext

from profiles.actions import ActionError, load_actions
from profiles.errors import RoucaiError

from .refusal import Refused

MAX_LINE = 64 * 1024
PAPER_ROLL = 500  #: receipts on a new roll (paper-in)


class ControlError(RoucaiError):
    """The device refused an action (``code``): non-conformant, exit 1; ``roucai device act`` reports the
    usage codes (bad-params, unknown-action, bad-request) as exit 2 itself."""

    exit_code = 1

    def __init__(self, code: str, zh: str, en: str):
        super().__init__(zh, en)
        self.code = code


class ControlUnreachable(ControlError):
    """Nothing answers on the control channel: exit 3."""

    exit_code = 3

    def __init__(self, zh: str, en: str):
        super().__init__("unreachable", zh, en)


class TimeSkew:
    """Seconds the device's time is ahead of the host's (advance-clock); ``source()`` is its time."""

    def __init__(self, base=time.monotonic):
        self.seconds = 0.0
        self._base = base

    def source(self) -> float:
        return self._base() + self.seconds


class _Control:
    kind = ""

    def __init__(self, model, lock=None):
        self.model = model
        self.lock = lock if lock is not None else nullcontext()
        self.catalogue = load_actions(getattr(model, "profile", None))
        self.log: list[dict] = []  #: every action performed (name, params, time)

    def perform(self, name: str, params: dict | None = None):
        try:
            p = self.catalogue.check(name, dict(params or {}))
        except ActionError as exc:
            code = "unknown-action" if name not in self.catalogue else "bad-params"
            raise ControlError(code, exc.zh, exc.en) from None
        fn = getattr(self, "_" + name.replace("-", "_"), None)
        if fn is None:
            raise ControlError(
                "unknown-action",
                f"仿真{self.kind}不支持操作「{name}」",
                f"the simulated {self.kind} does not perform {name!r}",
            )
        with self.lock:
            try:
                out = fn(**p)
            except Refused as exc:
                raise ControlError("refused", f"设备拒绝：{exc.reason}", f"the device refused: {exc.reason}") from None
            except ValueError as exc:
                raise ControlError("bad-params", f"参数无效：{exc}", f"bad parameter: {exc}") from None
        self.log.append({"action": name, "params": p, "t": time.time()})
        return out


class ScaleControl(_Control):
    """Actions on a :class:`~simulators.devices.scale.ScaleModel` served by ``endpoint``."""

    kind = "scale"

    def __init__(self, model, lock=None, endpoint=None, skew: TimeSkew | None = None):
        super().__init__(model, lock)
        self.endpoint = endpoint
        self.skew = skew
        self._card = b""

    def _grams(self, grams: str) -> float:
        g = float(grams)
        if not 0 <= g <= 1_000_000:
            raise ValueError(f"grams {grams} not in 0..1000000")
        return g

    def _put_load(self, grams):
        self.model.place(self._grams(grams), settled=True)

    def _remove_load(self):
        self.model.place(0, settled=True)

    def _unstable_load(self, grams):
        self.model.place(self._grams(grams), settled=False)

    _overload = _put_load
    _below_min = _put_load

    def _press_tare(self):
        self.model.tare()

    def _unbind(self):
        self.model.store.forget_stall()

    def _paper_out(self):
        self.model.paper = 0

    def _paper_in(self):
        self.model.paper = PAPER_ROLL

    def _printhead_fault(self):
        self.model.faults.add("ink_out")

    def _printhead_ok(self):
        self.model.faults.clear("ink_out")

    def _read_receipt(self, count):
        n = int(count)
        if not 1 <= n <= 20:
            raise ValueError("count must be 1..20")
        return [receipt_dict(r) for r in list(self.model.receipts)[-n:]]

    def _power_off(self):
        self.model.power_cut()

    def _power_on(self):
        if self.model.powered:
            return
        if self.endpoint is not None:
            self.endpoint.power_reset()
        self.model.restart()

    def _power_cut_mid_sale(self):
        self.model.faults.add(f"power_loss={self.model.sale_attempts + 1}")

    def _tap_card(self, operator, uid):
        self._card = bytes.fromhex(uid)
        self.model.card_tap(self._card, operator, kind=1)

    def _remove_card(self):
        self.model.card_tap(self._card, "", kind=1, removed=True)

    def _advance_clock(self, seconds):
        s = float(seconds)
        if not 0 <= s <= 400 * 86_400:
            raise ValueError("seconds must be 0..34560000")
        if self.skew is None:
            raise ControlError("refused", "本仿真设备的时间不可快进", "this simulated device's time cannot be advanced")
        self.skew.seconds += s

    def _fill_store(self, batch, count):
        """``count`` sales of ``batch`` at 500 g pressed on the scale itself (no wire); paper kept in."""
        n = int(count)
        if not 0 <= n <= 1_000_000:
            raise ValueError("count must be 0..1000000")
        m = self.model
        paper, m.paper = m.paper, m.paper + n  # the technician keeps the printer fed meanwhile
        done = 0
        for _ in range(n):
            try:
                m.sell(batch, 500)
            except Refused as exc:
                m.paper = paper
                return {"stored": done, "refusal": exc.reason}
            done += 1
        m.paper = paper
        return {"stored": done, "refusal": None}


class ReaderControl(_Control):
    """Actions on a :class:`~simulators.devices.reader.ReaderModel`; cards are issued with the profile's
    layout and test keys for the operator named."""

    kind = "card_reader"
    _last = None

    def _tap_card(self, operator, uid):
        from profiles.device.card_layout import CardHolder, load_card_layout
        from .card import MifareCard

        layout = load_card_layout(self.model.profile)
        holder = CardHolder(operator, operator[:9], "张建国", kind=1)
        self._last = MifareCard.issued(layout, bytes.fromhex(uid), holder)
        self.model.present(self._last)

    def _tap_copied_card(self, uid):
        """A clone's data on another UID: every block of the last card but its manufacturer block."""
        from profiles.device.card_layout import load_card_layout
        from .card import MifareCard

        if self._last is None:
            raise ValueError("no card was presented to copy")
        copy = MifareCard(bytes.fromhex(uid), {})
        copy.mem[16:] = self._last.mem[16:]
        copy.mem[0:16] = load_card_layout(self.model.profile).manufacturer_block(copy.uid)
        self.model.present(copy)

    def _remove_card(self):
        self.model.remove()

    def _pull_card_mid_write(self):
        self.model.faults.add("card_pulled=8")


def receipt_dict(r) -> dict:
    """A printed receipt as data (what ``read-receipt`` returns); :func:`receipt_from_dict` inverts it."""
    return {
        "market_name": r.market_name,
        "stall": r.stall,
        "vendor_name": r.vendor_name,
        "time": r.time.isoformat(),
        "order_no": r.order_no,
        "qr_content": r.qr_content,
        "blank": r.blank,
        "lines": [
            {
                "name": ln.name,
                "weight_g": ln.weight_g,
                "unit_price_fen": ln.unit_price_fen,
                "amount_fen": ln.amount_fen,
                "trace_code": ln.trace_code,
                "name_en": ln.name_en,
            }
            for ln in r.lines
        ],
    }


def receipt_from_dict(d: dict):
    from datetime import datetime
    from .receipt import Receipt, ReceiptLine

    return Receipt(
        d["market_name"],
        d["stall"],
        d["vendor_name"],
        datetime.fromisoformat(d["time"]),
        d["order_no"],
        [ReceiptLine(**ln) for ln in d["lines"]],
        d.get("qr_content", ""),
        bool(d.get("blank", False)),
    )


# -- the wire of the channel: JSON lines on 127.0.0.1 ------------------------------------------------------
class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline(MAX_LINE + 1)
            if not line:
                return
            self.wfile.write((json.dumps(self._answer(line), ensure_ascii=False) + "\n").encode("utf-8"))
            self.wfile.flush()

    def _answer(self, line: bytes) -> dict:
        if len(line) > MAX_LINE:
            return {"ok": False, "code": "bad-request", "zh": "请求过长", "en": "request line too long"}
        try:
            req = json.loads(line)
            name, params = req["action"], req.get("params") or {}
            if not isinstance(name, str) or not isinstance(params, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return {
                "ok": False,
                "code": "bad-request",
                "zh": '请求不是 {"action", "params"} JSON',
                "en": 'a request is JSON {"action", "params"}',
            }
        try:
            return {"ok": True, "result": self.server.control.perform(name, params)}
        except ControlError as exc:
            return {"ok": False, "code": exc.code, "zh": exc.zh, "en": exc.en}


class ControlServer(socketserver.ThreadingTCPServer):
    """Serves ``control`` on 127.0.0.1:``port`` (0: ephemeral); :attr:`url` is ``socket://127.0.0.1:PORT``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, control, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.control = control
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "ControlServer":
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name="device-control", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def parse_control_url(url: str) -> tuple[str, int]:
    """``socket://HOST:PORT`` -> (host, port); ValueError otherwise."""
    if not url.startswith("socket://"):
        raise ValueError(url)
    host, _, port = url[len("socket://") :].partition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(url)
    return host, int(port)


def send_action(url: str, name: str, params: dict | None = None, timeout: float = 30.0):
    """Perform one action on the control channel at ``url``; its result (ControlError if refused)."""
    try:
        host, port = parse_control_url(url)
    except ValueError:
        raise ControlError(
            "bad-request",
            f"控制通道地址应为 socket://HOST:PORT：{url}",
            f"a control channel URL is socket://HOST:PORT: {url}",
        ) from None
    req = json.dumps({"action": name, "params": {k: str(v) for k, v in (params or {}).items()}}) + "\n"
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(req.encode("utf-8"))
            buf = b""
            deadline = time.monotonic() + timeout
            while not buf.endswith(b"\n"):
                if time.monotonic() > deadline:
                    raise TimeoutError
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if len(buf) > 16 * MAX_LINE:
                    break
    except (OSError, TimeoutError) as exc:
        raise ControlUnreachable(
            f"无法连接控制通道 {url}：{exc}", f"cannot reach the control channel {url}: {exc}"
        ) from None
    try:
        ans = json.loads(buf)
    except ValueError:
        raise ControlUnreachable(
            f"控制通道 {url} 未给出有效应答", f"the control channel {url} gave no valid answer"
        ) from None
    if not ans.get("ok"):
        raise ControlError(ans.get("code", "refused"), ans.get("zh", ""), ans.get("en", ""))
    return ans.get("result")
