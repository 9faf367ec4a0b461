using System.Globalization;
using Spectre.Console;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// <c>perf kvm stat report</c>-style tables of <see cref="ExitStatistics"/>: by exit reason, by device, by bus
/// range and by vCPU (Event, Samples, Samples%, Time%, Min, Max, Avg ± %), then interrupts, device faults and
/// restarts, and dropped trace events. Plain text (no ANSI, fixed width) when the writer is not a terminal.
/// </summary>
public static class StatsReport
{
    /// <summary>The rows of one table: (label, cell), largest first.</summary>
    public static IReadOnlyList<(string Event, LatencyCell Cell)> ByReason(ExitStatistics stats) =>
        [.. stats.GroupBy(k => k.Kind).Select(r => (r.Key.Name(), r.Cell))];

    public static IReadOnlyList<(string Event, LatencyCell Cell)> ByDevice(ExitStatistics stats) =>
        [.. stats.GroupBy(k => k.Device).Where(r => r.Key != TraceNames.NoDevice)];

    public static IReadOnlyList<(string Event, LatencyCell Cell)> ByRange(ExitStatistics stats) =>
        [.. stats.GroupBy(k => (Space: k.Kind <= TraceEventKind.PioOut ? "pio" : "mmio", k.RangeStart, k.Device, IsAccess: k.Kind.IsAccess()))
            .Where(r => r.Key.IsAccess)
            .Select(r => (r.Key.RangeStart == ExitStatistics.OtherRanges
                ? $"{r.Key.Space} other {r.Key.Device}"
                : $"{r.Key.Space} 0x{r.Key.RangeStart:x} {r.Key.Device}", r.Cell))];

    public static IReadOnlyList<(string Event, LatencyCell Cell)> ByVcpu(ExitStatistics stats) =>
        [.. stats.ByVcpuCells.OrderBy(v => v.Key).Select(v => ($"vcpu{v.Key}", v.Cell))];

    /// <summary>Writes every table to <paramref name="output"/>.</summary>
    /// <param name="terminal">Colors and the terminal's width; false: plain ASCII-safe text, <paramref name="width"/> wide.</param>
    public static void Write(ExitStatistics stats, TextWriter output, bool terminal = false, int width = 120, string? title = null)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        if (!terminal)
        {
            console.Profile.Width = width;
            console.Profile.Capabilities.Unicode = false;
        }

        var total = stats.TotalExits;
        console.WriteLine(title ?? $"VM-exit statistics: {total.ToString("N0", CultureInfo.InvariantCulture)} exits handled in user space");
        if (stats.LatencySampleInterval > 1)
        {
            console.WriteLine($"Times from about 1 exit in {stats.LatencySampleInterval.ToString(CultureInfo.InvariantCulture)} (a clock read costs {stats.ClockReadNs.ToString("0", CultureInfo.InvariantCulture)} ns here); counts are exact.");
        }

        Table(console, "Analyze events for all VMs, all VCPUs (by exit reason):", "VM-EXIT", ByReason(stats), total);
        Table(console, "By device:", "DEVICE", ByDevice(stats), total);
        Table(console, "By bus range:", "RANGE", ByRange(stats), total);
        Table(console, "By vCPU:", "VCPU", ByVcpu(stats), total);

        if (stats.Interrupts.Count > 0)
        {
            var irq = NewTable("Interrupts raised:", false);
            irq.AddColumn("GSI");
            irq.AddColumn("Device");
            irq.AddColumn(new TableColumn("Count").RightAligned());
            foreach (var ((gsi, device), n) in stats.Interrupts.OrderBy(i => i.Key.Gsi).ThenBy(i => i.Key.Device, StringComparer.Ordinal))
            {
                irq.AddRow(gsi.ToString(CultureInfo.InvariantCulture), Markup.Escape(device), n.ToString(CultureInfo.InvariantCulture));
            }

            console.Write(irq);
        }

        if (stats.DeviceEvents.Count > 0)
        {
            var faults = NewTable("Device faults and restarts:", false);
            faults.AddColumn("Device");
            faults.AddColumn("Event");
            faults.AddColumn(new TableColumn("Count").RightAligned());
            foreach (var ((device, kind), n) in stats.DeviceEvents.OrderBy(i => i.Key.Device, StringComparer.Ordinal))
            {
                faults.AddRow(Markup.Escape(device), Markup.Escape(kind), n.ToString(CultureInfo.InvariantCulture));
            }

            console.Write(faults);
        }

        if (stats.Dropped > 0)
        {
            console.WriteLine($"Trace events dropped (the writer fell behind): {stats.Dropped.ToString(CultureInfo.InvariantCulture)}");
        }
    }

    /// <summary>Formats nanoseconds like perf: microseconds with two decimals.</summary>
    public static string Us(double ns) => (ns / 1000.0).ToString("0.00", CultureInfo.InvariantCulture) + "us";

    private static Table NewTable(string caption, bool expand)
    {
        var table = new Table { Border = TableBorder.Simple, Expand = expand };
        table.Title = new TableTitle(caption, Style.Plain);
        return table;
    }

    private static void Table(IAnsiConsole console, string caption, string label, IReadOnlyList<(string Event, LatencyCell Cell)> rows, long total)
    {
        if (rows.Count == 0)
        {
            return;
        }

        var time = rows.Sum(r => r.Cell.EstimatedTotalNs);
        var table = NewTable(caption, false);
        table.AddColumn(label);
        foreach (var column in new[] { "Samples", "Samples%", "Time%", "Min Time", "Max Time", "Avg time" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        foreach (var (name, cell) in rows)
        {
            table.AddRow(
                Markup.Escape(name),
                cell.Count.ToString(CultureInfo.InvariantCulture),
                Percent(cell.Count, total),
                Percent(cell.EstimatedTotalNs, time),
                Us(cell.TimedCount == 0 ? 0 : cell.MinNs),
                Us(cell.MaxNs),
                $"{Us(cell.MeanNs)} ( +-{cell.RelativeErrorPercent.ToString("0.00", CultureInfo.InvariantCulture)}% )");
        }

        console.Write(table);
    }

    private static string Percent(double part, double whole) =>
        (whole <= 0 ? 0 : part / whole * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%";
}
