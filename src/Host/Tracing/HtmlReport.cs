using System.Globalization;
using System.Net;
using System.Text;
using ActorVmm.Actors.Tracing;

namespace ActorVmm.Host.Tracing;

/// <summary>
/// A self-contained HTML report of a saved trace: the statistics tables, exit rate over time per reason and
/// handling-time histograms per device, drawn as inline SVG (no external scripts, styles or fonts; a few lines of
/// inline script only toggle chart series).
/// </summary>
public static class HtmlReport
{
    private const int Bins = 120;
    private static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(TraceFile trace, string title)
    {
        var stats = trace.Statistics();
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
            .Append(E($"ActorVmm trace: {title}")).Append("</title>\n<style>")
            .Append("body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 24px}")
            .Append("th,td{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}")
            .Append("th{background:#f3f3f3}svg{background:#fff;border:1px solid #ddd;margin:4px 0 16px}.legend span{margin-right:14px;cursor:pointer}")
            .Append(".off{opacity:.3}h2{margin-top:32px}</style></head><body>\n");
        html.Append("<h1>").Append(E($"ActorVmm trace: {title}")).Append("</h1>\n<p>VM <b>").Append(E(trace.Vm)).Append("</b>, ")
            .Append(trace.Events.Count(e => e.Kind.IsExit()).ToString(Inv)).Append(" exits, ")
            .Append(trace.Events.Count(e => e.Kind == TraceEventKind.Interrupt).ToString(Inv)).Append(" interrupts, ")
            .Append(trace.Dropped.ToString(Inv)).Append(" events dropped.</p>\n");

        Table(html, "By exit reason", "VM-EXIT", StatsReport.ByReason(stats), stats.TotalExits);
        Table(html, "By device", "DEVICE", StatsReport.ByDevice(stats), stats.TotalExits);
        Table(html, "By bus range", "RANGE", StatsReport.ByRange(stats), stats.TotalExits);
        Table(html, "By vCPU", "VCPU", StatsReport.ByVcpu(stats), stats.TotalExits);
        RateChart(html, trace);
        Histograms(html, trace);
        html.Append("<script>\n")
            .Append("document.querySelectorAll('.legend span').forEach(function(s){s.addEventListener('click',function(){")
            .Append("var id=s.getAttribute('data-series');var g=document.getElementById(id);if(!g){return;}")
            .Append("var hidden=g.style.display==='none';g.style.display=hidden?'':'none';s.classList.toggle('off',!hidden);});});\n")
            .Append("</script>\n</body></html>\n");
        return html.ToString();
    }

    private static void Table(StringBuilder html, string caption, string label, IReadOnlyList<(string Event, LatencyCell Cell)> rows, long total)
    {
        if (rows.Count == 0)
        {
            return;
        }

        var time = rows.Sum(r => (double)r.Cell.TotalNs);
        html.Append("<h2>").Append(E(caption)).Append("</h2>\n<table><tr><th>").Append(label)
            .Append("</th><th>Samples</th><th>Samples%</th><th>Time%</th><th>Min</th><th>Max</th><th>Avg ± %</th><th>p50</th><th>p99</th></tr>\n");
        foreach (var (name, cell) in rows)
        {
            html.Append("<tr><td>").Append(E(name)).Append("</td><td>").Append(cell.Count.ToString(Inv))
                .Append("</td><td>").Append(Pct(cell.Count, total)).Append("</td><td>").Append(Pct(cell.TotalNs, time))
                .Append("</td><td>").Append(StatsReport.Us(cell.MinNs)).Append("</td><td>").Append(StatsReport.Us(cell.MaxNs))
                .Append("</td><td>").Append(StatsReport.Us(cell.MeanNs)).Append(" ± ").Append(cell.RelativeErrorPercent.ToString("0.00", Inv)).Append('%')
                .Append("</td><td>").Append(StatsReport.Us(cell.Histogram.GetValueAtPercentile(50)))
                .Append("</td><td>").Append(StatsReport.Us(cell.Histogram.GetValueAtPercentile(99))).Append("</td></tr>\n");
        }

        html.Append("</table>\n");
    }

    private static void RateChart(StringBuilder html, TraceFile trace)
    {
        var exits = trace.Events.Where(e => e.Kind.IsExit()).ToList();
        if (exits.Count == 0)
        {
            return;
        }

        var t0 = exits.Min(e => e.TimeNs);
        var t1 = Math.Max(t0 + 1, exits.Max(e => e.TimeNs) + 1);
        var binNs = Math.Max(1.0, (t1 - t0) / (double)Bins);
        var series = exits.GroupBy(e => e.Kind).OrderByDescending(g => g.Count())
            .Select(g =>
            {
                var counts = new double[Bins];
                foreach (var e in g)
                {
                    counts[Math.Min(Bins - 1, (int)((e.TimeNs - t0) / binNs))]++;
                }

                return (Name: g.Key.Name(), Rates: counts.Select(c => c / (binNs / 1e9)).ToArray());
            }).ToList();
        var max = Math.Max(1, series.Max(s => s.Rates.Max()));
        const int w = 900, h = 300, left = 70, bottom = 30, top = 10;
        html.Append("<h2>Exit rate over time</h2>\n");
        Legend(html, "rate", series.Select(s => s.Name).ToList());
        html.Append(CultureInfo.InvariantCulture, $"<svg id=\"rate-chart\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\n");
        Axes(html, w, h, left, bottom, top, $"{max:0} exits/s", $"{(t1 - t0) / 1e6:0.###} ms");
        for (var i = 0; i < series.Count; i++)
        {
            var points = new StringBuilder();
            for (var b = 0; b < Bins; b++)
            {
                var x = left + (w - left - 10) * (b + 0.5) / Bins;
                var y = h - bottom - (h - bottom - top) * series[i].Rates[b] / max;
                points.Append(x.ToString("0.#", Inv)).Append(',').Append(y.ToString("0.#", Inv)).Append(' ');
            }

            html.Append(CultureInfo.InvariantCulture, $"<g id=\"rate-{i}\"><polyline fill=\"none\" stroke=\"{Palette[i % Palette.Length]}\" stroke-width=\"1.5\" points=\"{points.ToString().TrimEnd()}\"><title>{E(series[i].Name)}</title></polyline></g>\n");
        }

        html.Append("</svg>\n");
    }

    private static void Histograms(StringBuilder html, TraceFile trace)
    {
        var byDevice = trace.Events.Where(e => e.Kind.IsExit() && e.Device != TraceNames.NoDevice)
            .GroupBy(e => e.Device).OrderByDescending(g => g.Count()).ToList();
        if (byDevice.Count == 0)
        {
            return;
        }

        html.Append("<h2>Handling time per device</h2>\n<p>Exits per power-of-two bucket of handling time (log scale on the time axis).</p>\n");
        const int w = 900, h = 200, left = 70, bottom = 30, top = 10;
        foreach (var group in byDevice)
        {
            // Bucket b holds [2^b, 2^(b+1)) ns.
            var buckets = new long[40];
            foreach (var e in group)
            {
                var b = e.DurationNs <= 1 ? 0 : Math.Min(buckets.Length - 1, 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)e.DurationNs));
                buckets[b]++;
            }

            var first = Array.FindIndex(buckets, c => c > 0);
            var last = Array.FindLastIndex(buckets, c => c > 0);
            var n = last - first + 1;
            var max = buckets.Max();
            html.Append("<h3>").Append(E(group.Key)).Append(" (").Append(group.Count().ToString(Inv)).Append(" exits)</h3>\n");
            html.Append(CultureInfo.InvariantCulture, $"<svg class=\"histogram\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\n");
            Axes(html, w, h, left, bottom, top, $"{max} exits", string.Empty);
            var barW = (w - left - 10) / (double)n;
            for (var b = first; b <= last; b++)
            {
                var x = left + (b - first) * barW;
                var bh = (h - bottom - top) * buckets[b] / (double)max;
                html.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x + 1:0.#}\" y=\"{h - bottom - bh:0.#}\" width=\"{Math.Max(1, barW - 2):0.#}\" height=\"{bh:0.#}\" fill=\"{Palette[0]}\"><title>{Ns(1L << b)}–{Ns(1L << (b + 1))}: {buckets[b]}</title></rect>\n");
                html.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + barW / 2:0.#}\" y=\"{h - bottom + 14}\" font-size=\"10\" text-anchor=\"middle\">{Ns(1L << b)}</text>\n");
            }

            html.Append("</svg>\n");
        }
    }

    private static void Axes(StringBuilder html, int w, int h, int left, int bottom, int top, string yMax, string xMax)
    {
        html.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{h - bottom}\" stroke=\"#444\"/>")
            .Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{h - bottom}\" x2=\"{w - 10}\" y2=\"{h - bottom}\" stroke=\"#444\"/>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 4}\" y=\"{top + 10}\" font-size=\"11\" text-anchor=\"end\">{E(yMax)}</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 4}\" y=\"{h - bottom}\" font-size=\"11\" text-anchor=\"end\">0</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{w - 10}\" y=\"{h - 4}\" font-size=\"11\" text-anchor=\"end\">{E(xMax)}</text>\n");
    }

    private static void Legend(StringBuilder html, string prefix, IReadOnlyList<string> names)
    {
        html.Append("<div class=\"legend\">");
        for (var i = 0; i < names.Count; i++)
        {
            html.Append(CultureInfo.InvariantCulture, $"<span data-series=\"{prefix}-{i}\" style=\"color:{Palette[i % Palette.Length]}\">&#9632; {E(names[i])}</span>");
        }

        html.Append("</div>\n");
    }

    private static string Ns(long ns) => ns switch
    {
        >= 1_000_000_000 => (ns / 1e9).ToString("0.#", Inv) + "s",
        >= 1_000_000 => (ns / 1e6).ToString("0.#", Inv) + "ms",
        >= 1_000 => (ns / 1e3).ToString("0.#", Inv) + "µs",
        _ => ns.ToString(Inv) + "ns",
    };

    private static string Pct(double part, double whole) => (whole <= 0 ? 0 : part / whole * 100).ToString("0.00", Inv) + "%";

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
