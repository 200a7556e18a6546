"""The replay's plot: replicas over the run, recorded against replayed, with the demand.

One panel per replayed service. The API's demand is drawn in replicas' worth (demand ÷
one replica's capacity), on the replicas' own axis: where it is above the ready
replicas, the model counts time over the SLO. The workers' arrivals go on a right axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lab.autoscale.replay import Replay
from lab.autoscale.track import ServiceReplay
from lab.report.plots import DPI, SIZE

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def draw_replay(replay: Replay, path: Path) -> Path:
    """Draw ``replay`` into ``path`` (PNG); returns it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(replay.services)
    fig = Figure(figsize=(SIZE[0], SIZE[1] * n), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, service in zip(axes, replay.services, strict=True):
        _panel(ax, service)
    axes[-1].set_xlabel("seconds since the first recorded sync")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", bbox_inches="tight")
    return path


def _panel(ax: Axes, s: ServiceReplay) -> None:
    ax.grid(True, alpha=0.3)
    t = list(s.t)
    for track, color in ((s.recorded, "#4c72b0"), (s.replayed, "#dd8452")):
        label = f"{track.label}: {track.replica_seconds:,.0f} replica·s"
        ax.plot(t, track.run.replicas, "-", color=color, lw=1.6, drawstyle="steps-post",
                label=label)  # fmt: skip
        ax.plot(t, track.run.ready, ":", color=color, lw=1.0, drawstyle="steps-post",
                label=f"{track.label}: ready")  # fmt: skip
    if s.service == "api":
        # a queue makes the demand read tens of replicas for a few seconds: the axis
        # stays on the replicas, and the clipped peak is written down
        most = max([*s.recorded.run.replicas, *s.replayed.run.replicas, 1])
        top = 2 * most + 1
        shown = [min(v, top) for v in s.signal]
        label = s.signal_label
        if max(s.signal, default=0) > top:
            label += f" (clipped; peak {max(s.signal):.0f})"
        ax.plot(t, shown, "-", color="#55a868", lw=1.0, alpha=0.8, label=label)
        ax.set_ylim(0, top * 1.05)
    else:
        right = ax.twinx()
        right.plot(t, s.signal, "-", color="#55a868", lw=1.0, alpha=0.8, label=s.signal_label)
        right.set_ylabel("orders/s")
        right.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("replicas")
    ax.set_title(f"{s.service}: replicas, recorded vs replayed", loc="left", fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.06, 1.0), fontsize=8, frameon=False)
