from profiles import load_profile
from simulators.market.output import DEFAULT_KEY, EnvelopeBatcher

from marketkit import DAY, run_tiny

P = load_profile()


def test_envelopes_are_signed_batched_per_node_and_parse_clean(tmp_path):
    b = EnvelopeBatcher(P, DAY, 600)
    m, led, _, _ = run_tiny(hooks=[b.add])
    info = b.write(tmp_path)
    files = sorted(tmp_path.rglob("*.xml"))
    assert info["envelopes"] == len(files) > 20
    catalogue = sum(n for t, n in led.records_by_type.items() if t != "scale_sale")
    dups = sum(1 for f in led.faults if f["name"] == "duplicate_upload")
    assert catalogue <= info["records"] <= catalogue + dups
    nodes = {f.parent.name for f in files}
    assert nodes <= {n.code for n in m.topo.nodes}
    for f in files:
        res = P.envelope.parse(f.read_bytes(), key=DEFAULT_KEY)
        assert res.ok, (f, [x.en for x in res.findings][:3])
        assert res.node_id == f.parent.name
        assert len(res.records) <= P.envelope.max_count
    wrong = P.envelope.parse(files[0].read_bytes(), key="another-key")
    assert not wrong.ok


def test_plot_is_a_deterministic_png(tiny_day, tmp_path):
    from PIL import Image
    from simulators.market.plot import render

    _, led, _, _ = tiny_day
    a = render(led.hourly_by_node_type(), "tiny", tmp_path / "a.png")
    b = render(led.hourly_by_node_type(), "tiny", tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    img = Image.open(a)
    assert img.format == "PNG" and img.size[0] > 800 and img.size[1] > 500
    # the farmers' market panel has coloured bars
    colours = img.convert("RGB").getcolors(1 << 20)
    assert len(colours) > 5
