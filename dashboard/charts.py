"""The Overview's figures, built with plotly's graph objects from aggregates the engine computed.

graph_objects, not plotly.express: express costs ~30 ms a figure to build, graph objects ~5 ms,
and a cold Overview has a 300 ms budget. Text on the figures (workflow, tag, kind names) comes from
the database; plotly draws it as text, not HTML, except where `<br>` is ours.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from vton_eval.outcome import ERROR_KINDS

HEIGHT = 340
_MARGIN = dict(t=10, b=10, l=10, r=10)
# One colour per error kind, the same on every chart (plotly's qualitative "Safe" + "Vivid" sets).
_PALETTE = ("#88CCEE", "#CC6677", "#DDCC77", "#117733", "#332288", "#AA4499", "#44AA99", "#999933", "#882255",
            "#E58606")
KIND_COLOURS = {kind: _PALETTE[i % len(_PALETTE)] for i, kind in enumerate(ERROR_KINDS)}


def _escape(value: object) -> str:
    # Plotly renders a subset of HTML in labels; names from the database must stay text.
    return html.escape(str(value))


PCT = ".1%"  # every percentage a figure states (hover, cell), as the page's numbers: "12.5%"
COMPARED_COLOUR = "#b8b8b8"


def error_rates(errors: pd.DataFrame, compared: pd.DataFrame | None = None, compared_name: str = "baseline"
                ) -> go.Figure:
    """Error rate per workflow stacked by error kind, every workflow shown (0 % too) with "k of n" above it; beside
    each, in grey, the run the page compares with (`compared`: workflow, n, cases, rate), when there is one.

    Bars of one run share an offset group, stacked by hand (`base`): plotly stacks or groups a figure's bars,
    not both."""
    workflows = list(dict.fromkeys(errors["workflow"]))
    names = [_escape(w) for w in workflows]
    per = errors.groupby("workflow", sort=False).agg(n=("n", "sum"), cases=("cases", "first"))
    fig = go.Figure()
    kinds = errors[errors["error_kind"].notna()]
    base = {w: 0.0 for w in workflows}
    for kind in sorted(kinds["error_kind"].unique(), key=lambda k: (k not in KIND_COLOURS, k)):
        part = kinds[kinds["error_kind"] == kind]
        rates = part["rate"].fillna(0.0).tolist()
        fig.add_bar(x=[_escape(w) for w in part["workflow"]], y=rates, base=[base[w] for w in part["workflow"]],
                    name=_escape(kind), offsetgroup="run", marker_color=KIND_COLOURS.get(kind),
                    customdata=part[["n", "cases"]].to_numpy().tolist(),
                    hovertemplate=f"%{{x}}: %{{customdata[0]}} of %{{customdata[1]}} (%{{y:{PCT}}})"
                                  "<extra>%{fullData.name}</extra>")
        for w, rate in zip(part["workflow"], rates, strict=True):
            base[w] += rate
    totals = [(int(per.at[w, "n"]) / int(per.at[w, "cases"])) if per.at[w, "cases"] else 0.0 for w in workflows]
    labels = [f"{int(per.at[w, 'n'])} of {int(per.at[w, 'cases'])}" if per.at[w, "cases"] else "no result"
              for w in workflows]
    # "k of n" above each bar: text on a see-through bar as tall as the stack (a text trace would sit between
    # the run's bar and the one beside it).
    fig.add_bar(x=names, y=[max(t, 1e-9) for t in totals], offsetgroup="run", text=labels, textposition="outside",
                marker=dict(opacity=0), showlegend=False, hoverinfo="skip", meta="counts", cliponaxis=False)
    top = max([*totals, 0.05])
    if compared is not None and not compared.empty:
        by = {w: (int(n), int(c), r) for w, n, c, r in compared[["workflow", "n", "cases", "rate"]].itertuples(
            index=False)}
        rates = [by[w][2] if w in by and by[w][2] is not None and by[w][1] else 0.0 for w in workflows]
        text = [f"{by[w][0]} of {by[w][1]}" if w in by and by[w][1] else "no result" for w in workflows]
        fig.add_bar(x=names, y=[max(r, 1e-9) for r in rates], offsetgroup="compared", name=_escape(compared_name),
                    marker_color=COMPARED_COLOUR, text=text, textposition="outside", cliponaxis=False,
                    meta="compared counts", customdata=text,
                    hovertemplate=f"%{{x}}: %{{customdata}} (%{{y:{PCT}}})<extra>%{{fullData.name}}</extra>")
        top = max(top, *rates)
    fig.update_layout(barmode="group", height=HEIGHT, margin=_MARGIN, legend_title_text="error kind",
                      yaxis=dict(tickformat=".0%", range=[0, top * 1.3], title="error rate"),
                      xaxis=dict(categoryorder="array", categoryarray=names))
    return fig


def latency_boxes(latency: pd.DataFrame) -> go.Figure:
    """One box per workflow from its quantiles: box p25-p75 with the median, whiskers p5-p95, a dot at p99."""
    fig = go.Figure()
    names = [_escape(w) for w in latency["workflow"]]
    def seconds(column: str) -> list[float]:
        return (latency[column] / 1000).tolist()

    fig.add_box(y=names, q1=seconds("p25_ms"), median=seconds("p50_ms"), q3=seconds("p75_ms"),
                lowerfence=seconds("p05_ms"), upperfence=seconds("p95_ms"), orientation="h",
                name="latency", showlegend=False, marker_color="#6d28d9", hoverinfo="x+y")
    fig.add_scatter(y=names, x=seconds("p99_ms"), mode="markers", name="p99", marker=dict(symbol="diamond",
                    color="#CC6677", size=9), hovertemplate="%{y} p99: %{x:.2f} s<extra></extra>")
    fig.update_layout(height=max(200, 70 * len(names) + 80), margin=_MARGIN, showlegend=False,
                      xaxis=dict(title="seconds (ok calls)", rangemode="tozero"), yaxis=dict(autorange="reversed"))
    return fig


def trend(points: pd.DataFrame, y: str) -> go.Figure:
    """A line per workflow across runs (oldest left), one step per run: runs made seconds apart stand as far
    apart as runs made days apart (a time axis would pile them up); each is labelled with when it started."""
    order = points.drop_duplicates("run_id").sort_values(["created_at", "run_id"])
    ids = order["run_id"].tolist()
    ticks = [f"{when:%m-%d %H:%M:%S}" if hasattr(when, "strftime") else str(when) for when in order["created_at"]]
    fig = go.Figure()
    for workflow, part in points.groupby("workflow", sort=True):
        labels = [_escape(label or "(no label)") for label in part["label"]]
        fig.add_scatter(x=part["run_id"].tolist(), y=part[y].tolist(), mode="lines+markers", name=_escape(workflow),
                        customdata=list(zip(part["run_id"], labels, part["cases"], strict=True)),
                        hovertemplate="%{customdata[1]} · %{customdata[0]}<br>"
                                      + (f"%{{y:{PCT}}}" if y == "error_rate" else "%{y:.0f} ms")
                                      + "<br>%{customdata[2]} cases<extra>%{fullData.name}</extra>")
    fig.update_layout(height=HEIGHT, margin=_MARGIN, legend_title_text="workflow",
                      xaxis=dict(type="category", categoryorder="array", categoryarray=ids, tickmode="array",
                                 tickvals=ids, ticktext=ticks, title="run (by start time, UTC)"),
                      yaxis=dict(tickformat=".0%", rangemode="tozero", title="error rate") if y == "error_rate"
                      else dict(title="p95 latency (ms)", rangemode="tozero"))
    return fig


HEATMAP_TEXT_PX = 14


def tag_heatmap(heat: pd.DataFrame) -> go.Figure:
    """Error rate per workflow x tag, each cell with its count: "40.0%" over "2 of 5"."""
    rates = heat.pivot(index="workflow", columns="tag", values="error_rate")
    errors = heat.pivot(index="workflow", columns="tag", values="errors")
    cases = heat.pivot(index="workflow", columns="tag", values="cases")
    text = [[("" if pd.isna(cases.at[w, t]) else f"{int(errors.at[w, t])} of {int(cases.at[w, t])}")
             for t in rates.columns] for w in rates.index]
    top = max(0.01, float(heat["error_rate"].max()))
    fig = go.Figure(go.Heatmap(
        z=rates.to_numpy().tolist(), x=[_escape(t) for t in rates.columns], y=[_escape(w) for w in rates.index],
        text=text,
        # Large enough to read; plotly picks dark or light text by each cell's colour.
        texttemplate=f"<b>%{{z:{PCT}}}</b><br>%{{text}}", textfont=dict(size=HEATMAP_TEXT_PX), colorscale="Reds",
        zmin=0, zmax=top, colorbar=dict(title="error rate", tickformat=".0%" if top >= 0.1 else ".1%", nticks=5),
        hoverongaps=False, hovertemplate=f"%{{y}} · %{{x}}: %{{text}} (%{{z:{PCT}}})<extra></extra>"))
    fig.update_layout(height=HEIGHT, margin=_MARGIN)
    return fig


def arena(rows: list[dict]) -> go.Figure:
    """The leaderboard: each run's score with its interval drawn, best at the top; a line at 1000 (the average)."""
    names = [_escape(f"{r['rank']}. {r['label'] or '(no label)'} · {r['run_id']}") for r in rows]
    scores = [r["score"] for r in rows]
    fig = go.Figure()
    fig.add_scatter(
        x=scores, y=names, mode="markers", marker=dict(size=11, color="#332288"), showlegend=False,
        error_x=dict(type="data", symmetric=False, array=[r["ci_high"] - r["score"] for r in rows],
                     arrayminus=[r["score"] - r["ci_low"] for r in rows], thickness=2, width=6, color="#332288"),
        customdata=[[r["ci_low"], r["ci_high"], r["picks"], _escape(r["system"])] for r in rows],
        hovertemplate="%{y}<br>score %{x:.0f} (95% interval %{customdata[0]:.0f} to %{customdata[1]:.0f})<br>"
                      "%{customdata[2]} picks · %{customdata[3]}<extra></extra>")
    fig.add_vline(x=1000, line_dash="dot", line_color="#999999")
    fig.update_layout(height=max(200, 48 * len(rows) + 90), margin=_MARGIN,
                      xaxis=dict(title="score (1000 = the average run; +100 = preferred in 64 % of picks)"),
                      yaxis=dict(autorange="reversed"))
    return fig
