"""The test bench of the perception suite: how a test reaches the device under test.

A *bench* is what a test talks to; the same tests run unchanged on both kinds:

* **builtin** (``--target builtin[?variant=NAME]``): a fresh reference model per
  test (:class:`~simulators.devices.scale.ScaleModel`, ``ReaderModel``) served on
  an in-process ``sim://`` line at 115,200 baud, with the variant's fault switch
  on when the variant's actor is this device.  Physical steps are the profile's
  operator actions, sent to the simulated scale's control channel (a
  :class:`~simulators.devices.control.ControlServer` on 127.0.0.1, the same one
  ``roucai device scale --control`` serves) exactly as to a foreign device's.
* **device** (``serial://…``, ``sim://…``, ``socket://…``): one port for the whole
  session, opened with ``serial.serial_for_url(*target.serial_open_args())``.
  Physical steps are the operator actions its capability statement declares
  (``[actions]``: a command, a prompt, or a simulator's control channel;
  :mod:`conformance.actions`).  A step whose action is not declared ends the
  test ``not-tested``, naming the action (:class:`~conformance.actions.ActionMissing`).

Both go through :meth:`ScaleBench.act` and an :class:`~conformance.actions.ActionRunner`; the tests never
touch a model.

Every byte either way goes through a :class:`TracedPort`, which writes the wire
trace of the running test (``wire.jsonl``: time, direction, hex and the decoded
frames) into its evidence, so every verdict has the bytes behind it.  Every
driver call has the protocol's timeout; a device that stops answering raises
:class:`DeviceSilent`, a ``TimeoutError``, so the verdict is ``timeout``.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import serial

from conformance.notjudgeable import NotJudgeable
from conformance.actions import ActionMissing, ActionRunner
from profiles.device import Frame, get_protocol
from simulators.devices.control import ControlServer, ScaleControl, TimeSkew, receipt_from_dict
from simulators.devices.driver import DeviceNak, DeviceTimeout, ReaderDriver, ScaleDriver
from simulators.serial import LineSettings, WireTrace, open_line

from . import observations

#: Capability-statement keys that tell the harness how it can act on a real device (besides [actions]).
HARNESS_CAPABILITIES = {
    "sell_command": "设备实现 SELL 命令（按当前净重成交一行），否则销售类测试无法自动进行",
    "test_load_g": "秤盘上的已知砝码质量（克），销售按此重量成交；未声明 put-load 操作时它须一直在秤盘上",
    "power_off_command": "旧写法：等同于 [actions] power-off（切断被测设备电源的命令）",
    "power_on_command": "旧写法：等同于 [actions] power-on（恢复被测设备电源的命令）",
    "clock_observe_s": "测量时钟漂移的观察时长（秒，默认 86400）；有 advance-clock 操作时快进这么久，否则真实等待",
    "storage_fill": "允许用 SELL 把存储写满（无 fill-store 操作时；长时间运行）",
    "test_card": "读卡器上放着一张按本配置布局与测试密钥发行的服务卡",
}

BUILTIN_BAUD = 115_200
#: The load a device's sales are made at when the harness places loads (put-load): 1232 g x 28.00 yuan/kg is
#: 34.496 yuan, so every such sale exercises the amount's rounding (at 1000 g nothing is rounded).
SALE_LOAD_G = 1232
NODE = "650102001"  #: the harness's market (node) code
UPSTREAM_NODE = "650102002"  #: where the incoming batches come from
_line_ids = itertools.count(1)
_DEVICE_REQUEST_IDS = itertools.count(int(time.time() * 10) % 2_000_000_000)  #: SELL request ids, session-wide


class DeviceSilent(DeviceTimeout, TimeoutError):
    """The device did not answer within the protocol's time limit (verdict: timeout)."""


def _silent(exc: DeviceTimeout) -> DeviceSilent:
    err = DeviceSilent(exc.wire, exc.attempts, 0.0)
    err.zh, err.en = exc.zh, exc.en
    err.args = (exc.en,)
    return err


class _Judged:
    """Mix-in: a driver whose timeouts are ``TimeoutError`` (the plugin's ``timeout`` verdict)."""

    def transact(self, msg):
        try:
            return super().transact(msg)
        except DeviceSilent:
            raise
        except DeviceTimeout as exc:
            raise _silent(exc) from None


class JudgedScaleDriver(_Judged, ScaleDriver):
    pass


class JudgedReaderDriver(_Judged, ReaderDriver):
    pass


class TracedPort:
    """A pyserial-like port that copies every chunk into the current test's wire trace."""

    def __init__(self, port, protocol, reopen=None):
        self._port = port
        self._reopen = reopen  #: () -> a fresh raw port (after the device was power-cycled)
        self._protocol = protocol
        self.trace: WireTrace | None = None
        self.device = str(getattr(port, "name", None) or port)  #: key of the device in the run's observation log
        self._t0 = time.monotonic()
        self._dec = {}

    def start_trace(self) -> None:
        """Begin a new trace (one per test); records are kept until :meth:`take_trace`."""
        self._t0 = time.monotonic()
        self._dec = {"host->device": self._protocol.decoder(), "device->host": self._protocol.decoder()}
        self.trace = WireTrace(None)
        self.trace.write(
            {
                "event": "open",
                "port": str(getattr(self._port, "name", None) or self._port),
                "baudrate": getattr(self._port, "baudrate", None),
                "protocol": self._protocol.name,
                "wall_time": datetime.now().isoformat(),
            }
        )

    def take_trace(self) -> str:
        """The trace so far as JSON lines (and stop tracing)."""
        recs, self.trace = (self.trace.records if self.trace else []), None
        return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":"), default=str) + "\n" for r in recs)

    def _record(self, direction: str, data: bytes) -> None:
        if self.trace is None or not data:
            return
        rec = {"t": round(time.monotonic() - self._t0, 6), "dir": direction, "hex": data.hex(" "), "n": len(data)}
        items = self._dec[direction].feed(data)
        observations.RUN.saw(self.device, direction, items, self._protocol)
        frames = [self._protocol.describe(f) for f in items if isinstance(f, Frame)]
        if frames:
            rec["frames"] = frames
        self.trace.write(rec)

    # -- the pyserial surface the drivers use --------------------------------------
    def write(self, data: bytes) -> int:
        self._record("host->device", bytes(data))
        return self._port.write(data)

    def read(self, size: int = 1) -> bytes:
        data = self._port.read(size)
        self._record("device->host", data)
        return data

    @property
    def in_waiting(self) -> int:
        return self._port.in_waiting

    @property
    def timeout(self):
        return self._port.timeout

    @timeout.setter
    def timeout(self, value) -> None:
        self._port.timeout = value

    @property
    def baudrate(self):
        return getattr(self._port, "baudrate", None)

    def reset_input_buffer(self) -> None:
        self._port.reset_input_buffer()

    def reopen(self) -> None:
        """Close and open the port again (a device that lost power may have dropped the connection)."""
        if self._reopen is None:
            return
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass
        self._port = self._reopen()

    def close(self) -> None:
        self.trace = None
        self._port.close()


def variant_switch(target, actor: str) -> str | None:
    """The ``switch`` of ``target``'s variant when it belongs to ``actor`` (else ``None``)."""
    if target.variant:
        from conformance.variants import load_variants

        v = load_variants()[target.variant]
        if v.actor == actor:
            return v.switch
    return None


class Bench:
    """What every bench has: the driver, the capability statement, the evidence."""

    kind = ""

    def __init__(self, target, caps, evidence, seed: int):
        self.target = target
        self.caps = caps
        self.evidence = evidence
        self.seed = seed
        self.protocol = get_protocol()
        self.builtin = target.is_builtin
        self.notes: list[str] = []

    def declared(self, key: str, default=None):
        return self.caps.capabilities.get(key, default)

    def needs(self, key: str, why_zh: str, why_en: str):
        """The declared harness capability ``key`` (a device target), or not-applicable with the reason."""
        val = self.declared(key)
        if not val:
            raise NotJudgeable(
                f"{why_zh}；能力声明未给出 {key}（{HARNESS_CAPABILITIES.get(key, '')}）",
                f"{why_en}; the capability statement does not declare {key!r} ({HARNESS_CAPABILITIES.get(key, '')})",
            )
        return val

    def attach_evidence(self) -> None:
        """The wire trace (``wire.jsonl``) and the bench's facts (``bench.json``) of this test (idempotent)."""
        if (
            self.port.trace is None
            and self.evidence.files
            and any(f.endswith("wire.jsonl") for f in self.evidence.files)
        ):
            return
        self.evidence.attach_text("wire.jsonl", self.port.take_trace())
        self.evidence.attach_json(
            "bench.json",
            {
                "bench": "builtin" if self.builtin else "device",
                "target": self.target.url,
                "variant": self.target.variant,
                "faults": self.model.faults.names if self.model else [],
                "driver_stats": dict(self.drv.stats) if hasattr(self, "drv") else {},
                "notes": self.notes,
            },
        )

    def require_builtin(self, why_zh: str, why_en: str) -> None:
        """Only the built-in reference device lets the harness do this (e.g. pull a card mid-write)."""
        if not self.builtin:
            raise NotJudgeable(f"{why_zh}（仅内置设备可做）", f"{why_en} — possible with the built-in device only")


class ScaleBench(Bench):
    """The scale under test.

    ``drv`` is a :class:`ScaleDriver` (every call timed out by the protocol);
    ``model`` the reference model on builtin (``None`` on a device target).
    ``unit_g`` is the load a sale is made at: on builtin whatever the test places
    (default 1 kg), on a device the declared ``test_load_g``.
    """

    kind = "scale"

    def __init__(
        self,
        target,
        caps,
        evidence,
        seed: int,
        *,
        port=None,
        durable: bool = True,
        bind: bool = True,
        tmpdir: Path | None = None,
        paced: bool = True,
    ):
        super().__init__(target, caps, evidence, seed)
        self.model = None
        self.runner = None
        self.line = None
        self.control = None  #: builtin: the simulator's control channel (a ControlServer)
        self.actions = None  #: the actions the harness can perform (ActionRunner)
        self._skew = 0.0  #: seconds the reference clock was moved forward (advance-clock)
        self._placed = None  #: device: the load last put on the pan by an action
        # a fresh device per test on builtin; a device target keeps its sales, so ids stay unique over runs
        self._request_ids = itertools.count(1) if self.builtin else _DEVICE_REQUEST_IDS
        codes = self._codes = __import__("profiles").load_profile().codes
        self.operator = codes.operator_code(NODE, 1 + seed % 900)
        self.stall = f"A-{1 + seed % 90:02d}"
        if self.builtin:
            self._start_builtin(durable, tmpdir, paced)
            self.unit_g = 1000
        else:
            self.port = port
            self.actions = ActionRunner(caps, evidence)
            load = self.declared("test_load_g")
            self.unit_g = int(load) if load else (SALE_LOAD_G if self.can("put-load") else None)
        self.port.start_trace()
        self.drv = JudgedScaleDriver(self.port, protocol=self.protocol, seq_start=seed % 255)
        if bind:
            self.bind()

    # -- set-up -----------------------------------------------------------------------
    def _start_builtin(self, durable: bool, tmpdir: Path | None, paced: bool = True) -> None:
        from conformance.proofs.device_firmware import device_class
        from simulators.devices import serve

        model_class, self.faults = device_class("scale", variant_switch(self.target, "scale"))
        self._tmp = None
        store = None
        if durable:
            if tmpdir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="roucai-perc-")
                tmpdir = Path(self._tmp.name)
            store = tmpdir / "scale.db"
        self._time = TimeSkew()
        self.model = model_class(store, seed=self.seed, faults=self.faults, time_source=self._time.source)
        self.line = open_line(
            f"perc-scale-{next(_line_ids)}", backend="sim", settings=LineSettings(baudrate=BUILTIN_BAUD), paced=paced
        )
        self.runner = serve(self.model, self.line.device).start()
        self.control = ControlServer(
            ScaleControl(self.model, self.runner.lock, self.runner.endpoint, self._time)
        ).start()
        self.actions = ActionRunner(SimpleNamespace(actions={}, control=self.control.url), self.evidence)
        self.port = TracedPort(
            serial.serial_for_url(self.line.host_url, baudrate=BUILTIN_BAUD, timeout=0.01), self.protocol
        )

    def close(self) -> None:
        self.attach_evidence()
        if self.builtin:
            self.control.stop()
            self.runner.stop()
            self.port.close()
            self.line.close()
            self.model.store.close()
            if self._tmp is not None:
                self._tmp.cleanup()

    # -- the stall and the batches --------------------------------------------------------
    def bind(self) -> None:
        self.drv.bind_stall(NODE, self.operator, self.stall, "北园春农贸市场", "张建国")

    def batch_code(self, n: int) -> str:
        """The ``n``-th incoming batch trace code of this run (deterministic per seed)."""
        up = self._codes.operator_code(UPSTREAM_NODE, 1 + self.seed % 900)
        return self._codes.trace_code(up, 100_000 + (self.seed * 97) % 800_000 + n)

    def new_batch(
        self, limit_g: int, price_fen: int = 2800, commodity: str = "21111002", avoid: tuple[str, ...] = ()
    ) -> str:
        """Load a batch with ``limit_g`` still to sell; returns its trace code.

        Builtin: a fresh code each time.  Device: batches stay on a device (the protocol
        has no unload), so codes already on it are reused, least used first, with the
        limit reloaded to what is sold + ``limit_g``; new codes only while the declared
        batch table has room.
        """
        if self.builtin:
            self._n = getattr(self, "_n", 0) + 1
            code = self.batch_code(self._n)
            self.drv.load_batch(code, commodity, limit_g, price_fen)
            return code
        st = self.drv.status()
        usable = [b for b in st.batches if not b.stopped and b.batch_trace not in avoid]
        room = int(self.declared("max_batches", 8)) - len(st.batches)
        if room > 0 or not usable:
            n = 0
            held = {b.batch_trace for b in st.batches}
            while True:
                n += 1
                code = self.batch_code(n)
                if code not in held and code not in avoid:
                    break
            self.drv.load_batch(code, commodity, limit_g, price_fen)
            return code
        b = min(usable, key=lambda b: b.sold_g)
        self.drv.load_batch(b.batch_trace, b.commodity, b.sold_g + limit_g, price_fen)
        return b.batch_trace

    # -- operator actions -------------------------------------------------------------------
    def can(self, action: str) -> bool:
        """Whether the harness can perform ``action`` on this scale (builtin: every action of the simulator)."""
        return self.actions.available(action)

    def act(self, action: str, **params):
        """Perform operator action ``action``; its result (read-receipt, fill-store) or None.

        Not declared: :class:`ActionMissing` (the test is not-tested); a failing action: ActionFailed."""
        return self.actions.perform(action, **params)

    # -- weighing and selling -------------------------------------------------------------
    def place(self, load_g: float, settled: bool = True, action: str | None = None) -> None:
        """Put ``load_g`` on the platter: action ``put-load`` (``unstable-load`` when not ``settled``, or the
        ``action`` named: overload, below-min).  A device without it passes only if ``load_g`` is the declared
        test load that stays on the platter; otherwise not-tested (needs the action)."""
        action = action or ("put-load" if settled else "unstable-load")
        if not self.builtin and settled and action == "put-load" and self._placed == load_g:
            return
        if self.can(action):
            self.act(action, grams=int(round(load_g)))
            self._placed = load_g if settled and action == "put-load" else None
            observations.RUN.mark(self.port.device, f"load:{load_g:g}" if self._placed is not None else "load:?")
            return
        if settled and action == "put-load" and self.unit_g is not None and abs(load_g - self.unit_g) <= 0.5:
            return
        raise ActionMissing([action], f"秤盘上需要 {load_g:g} 克", f"{load_g:g} g on the platter")

    def need_sell(self) -> None:
        """A device must implement SELL (``sell_command``) for the harness to make sales; else not applicable."""
        if not self.builtin:
            self.needs("sell_command", "设备未声明支持 SELL 命令，无法自动成交", "sales need the SELL command")

    def sell(self, batch: str, load_g: float | None = None, request_id: int | None = None):
        """One sale line of ``batch`` at ``load_g`` (default ``unit_g``) through SELL; the record."""
        self.need_sell()
        if self.unit_g is None:
            raise ActionMissing(
                ["put-load"],
                "销售需要秤盘上有已知负载（或声明 test_load_g）",
                "sales need a known load on the platter (or a declared test_load_g)",
            )
        self.place(self.unit_g if load_g is None else load_g)
        rid = next(self._request_ids) if request_id is None else request_id
        return self.drv.sell(batch, rid)

    def receipts(self, n: int = 1) -> list:
        """The last ``n`` receipts the scale printed, at most ``n`` (action ``read-receipt``)."""
        return [receipt_from_dict(d) for d in (self.act("read-receipt", count=n) or [])]

    def fill_storage(self, batch: str, count: int) -> tuple[int, str | None]:
        """Make up to ``count`` sales of ``batch`` (offline: nothing acknowledged); (stored, refusal or None).

        Action ``fill-store`` (the operator's key presses on the scale itself, no wire: the built-in and the
        simulated scale make 10,000 sales in seconds), else, on a device that declares ``storage_fill``, SELL
        over the wire; else not-tested (needs fill-store).
        """
        if self.can("fill-store"):
            out = self.act("fill-store", batch=batch, count=count)
            self._placed = None
            return int(out["stored"]), out["refusal"]
        if not self.declared("storage_fill"):
            raise ActionMissing(["fill-store"], "写满存储", "filling the storage")
        done = 0
        for _ in range(count):
            try:
                self.sell(batch)
            except DeviceNak as exc:
                return done, exc.reason
            done += 1
        return done, None

    def next_request_id(self) -> int:
        return next(self._request_ids)

    def read_all(self, from_index: int, acknowledge: bool = False, chunk: int = 10, limit: int = 100_000):
        """Every stored record from ``from_index`` on (READ_RECORDS until none remain)."""
        out, idx = [], from_index
        while len(out) < limit:
            resp = self.drv.read_records(idx, chunk)
            if not resp.records:
                break
            out += resp.records
            if acknowledge:
                self.drv.ack_records(resp.records[-1].index)
            idx = resp.next_index
            if resp.remaining == 0:
                break
        return out

    # -- power and time ---------------------------------------------------------------------
    def can_power_cycle(self) -> bool:
        return self.can("power-off") and self.can("power-on")

    def power_off(self) -> None:
        observations.RUN.mark(self.port.device, "power_off")
        self.act("power-off")

    def power_on(self, wait_s: float = 30.0) -> None:
        """Power back (action power-on); returns once the device answers IDENTIFY again (at most ``wait_s``)."""
        observations.RUN.mark(self.port.device, "power_on")
        self.act("power-on")
        if self.builtin:
            return
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.port.reopen()
                self.drv.identify()
                return
            except (DeviceTimeout, serial.SerialException, OSError):
                if time.monotonic() > deadline:
                    raise DeviceSilent("IDENTIFY", 0, wait_s) from None
                time.sleep(0.5)

    def power_cycle(self) -> None:
        missing = [a for a in ("power-off", "power-on") if not self.can(a)]
        if missing:
            raise ActionMissing(missing, "断电重启设备", "power-cycling the device")
        self.power_off()
        self.power_on()

    def let_time_pass(self, seconds: float) -> None:
        """Action advance-clock: the device and the reference clock live ``seconds`` later."""
        self.act("advance-clock", seconds=int(seconds))
        self._skew += seconds

    def reference_now(self) -> datetime:
        """The reference clock the device's clock is judged against (host wall time, plus any fast-forward)."""
        return datetime.now() + timedelta(seconds=self._skew)


class ReaderBench(Bench):
    """The card reader under test; ``model`` is the reference reader on builtin."""

    kind = "card_reader"

    def __init__(self, target, caps, evidence, seed: int, *, port=None):
        super().__init__(target, caps, evidence, seed)
        from profiles import load_profile
        from profiles.device.card_layout import load_card_layout

        self.profile = load_profile()
        self.layout = load_card_layout(self.profile)
        self.model = None
        if self.builtin:
            from conformance.proofs.device_firmware import reader_model
            from simulators.devices import serve

            self.model = reader_model(variant_switch(target, "card_reader"), seed)
            self.line = open_line(
                f"perc-reader-{next(_line_ids)}", backend="sim", settings=LineSettings(baudrate=BUILTIN_BAUD)
            )
            self.runner = serve(self.model, self.line.device).start()
            self.port = TracedPort(
                serial.serial_for_url(self.line.host_url, baudrate=BUILTIN_BAUD, timeout=0.01), self.protocol
            )
        else:
            self.port = port
            self.actions = ActionRunner(caps, evidence)
        self.port.start_trace()
        self.drv = JudgedReaderDriver(self.port, protocol=self.protocol, layout=self.layout, seq_start=seed % 255)

    def issue_card(self, n: int = 1, kind: int = 1, holder_name: str = "张建国"):
        """A service card issued by the harness (the profile's layout and test keys)."""
        from profiles.device.card_layout import CardHolder
        from simulators.devices.card import MifareCard

        codes = self.profile.codes
        uid = bytes(((self.seed * 31 + n * 7 + kind * 101 + i * 13) % 256 for i in range(4)))
        holder = CardHolder(codes.operator_code(NODE, n), NODE, holder_name, kind=kind)
        return MifareCard.issued(self.layout, uid, holder)

    def present(self, card):
        """Put ``card`` in the field (builtin only) and return what the reader now has."""
        self.require_builtin("无法把卡片放到实物读卡器上", "cannot put a card on a device's reader")
        with self.runner.lock:
            return self.model.present(card)

    def remove(self):
        self.require_builtin("无法从实物读卡器上拿走卡片", "cannot take a card off a device's reader")
        with self.runner.lock:
            return self.model.remove()

    def card_in_field(self):
        """Builtin: a freshly issued card.  Device: action tap-card (a card of the harness's operator, issued
        with the profile's layout and test keys), else the declared test card must be there."""
        if self.builtin:
            return self.present(self.issue_card())
        if self.actions.available("tap-card"):
            card = self.issue_card()
            self.actions.perform("tap-card", operator=self.profile.codes.operator_code(NODE, 1), uid=card.uid.hex())
            return None
        self.needs("test_card", "读卡器上没有声明的测试卡", "needs a test card on the reader (or action tap-card)")
        return None

    def close(self) -> None:
        self.attach_evidence()
        if self.builtin:
            self.runner.stop()
            self.port.close()
            self.line.close()


def nak_reason(exc: BaseException) -> str | None:
    return exc.reason if isinstance(exc, DeviceNak) else None
