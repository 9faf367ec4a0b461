using System.Text.Json;
using ActorVmm.Actors.Tracing;

namespace ActorVmm.Host.Tracing;

/// <summary>A saved trace read back (Chrome JSON or jsonl, detected from the content).</summary>
public sealed record TraceFile(string Vm, IReadOnlyList<TraceEvent> Events, long Dropped, TraceFileFormat Format)
{
    /// <exception cref="InvalidDataException">Neither format, or malformed JSON (message names the line).</exception>
    public static TraceFile Read(string path)
    {
        using var stream = File.OpenRead(path);
        return Read(stream);
    }

    public static TraceFile Read(Stream stream)
    {
        using var reader = new StreamReader(stream);
        var first = reader.ReadLine();
        while (first is not null && string.IsNullOrWhiteSpace(first))
        {
            first = reader.ReadLine();
        }

        if (first is null)
        {
            throw new InvalidDataException("the trace file is empty");
        }

        if (first.Contains("\"type\":\"header\"", StringComparison.Ordinal))
        {
            return ReadJsonl(first, reader);
        }

        return ReadChrome(first + "\n" + reader.ReadToEnd());
    }

    private static TraceFile ReadJsonl(string header, StreamReader reader)
    {
        var vm = string.Empty;
        long dropped = 0;
        var events = new List<TraceEvent>();
        var lineNo = 0;
        var line = header;
        while (line is not null)
        {
            lineNo++;
            if (!string.IsNullOrWhiteSpace(line))
            {
                JsonDocument doc;
                try
                {
                    doc = JsonDocument.Parse(line);
                }
                catch (JsonException e)
                {
                    throw new InvalidDataException($"line {lineNo}: not JSON: {e.Message}");
                }

                using (doc)
                {
                    var root = doc.RootElement;
                    var type = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("type", out var t) ? t.GetString() : null;
                    if (type == "header")
                    {
                        vm = root.TryGetProperty("vm", out var v) ? v.GetString() ?? string.Empty : string.Empty;
                    }
                    else if (type == "end")
                    {
                        dropped = root.TryGetProperty("dropped", out var d) && d.TryGetInt64(out var n) ? n : 0;
                    }
                    else if (TraceJson.ReadFields(root) is { } e)
                    {
                        events.Add(e);
                    }
                }
            }

            line = reader.ReadLine();
        }

        return new TraceFile(vm, events, dropped, TraceFileFormat.Jsonl);
    }

    private static TraceFile ReadChrome(string text)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"not a trace file (neither jsonl nor Chrome JSON): {e.Message}");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("traceEvents", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException("not a trace file: no traceEvents array");
            }

            var events = new List<TraceEvent>();
            foreach (var item in list.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("cat", out var cat) && cat.GetString() != "device"
                    && item.TryGetProperty("args", out var args) && TraceJson.ReadFields(args) is { } e)
                {
                    events.Add(e);
                }
            }

            var vm = string.Empty;
            long dropped = 0;
            if (root.TryGetProperty("otherData", out var other) && other.ValueKind == JsonValueKind.Object)
            {
                vm = other.TryGetProperty("vm", out var v) ? v.GetString() ?? string.Empty : string.Empty;
                dropped = other.TryGetProperty("dropped", out var d) && d.TryGetInt64(out var n) ? n : 0;
            }

            return new TraceFile(vm, events, dropped, TraceFileFormat.Chrome);
        }
    }

    /// <summary>The statistics of the saved events (the same tables <c>run --stats</c> prints).</summary>
    public ExitStatistics Statistics()
    {
        var stats = new ExitStatistics { Dropped = Dropped };
        foreach (var e in Events)
        {
            Accumulate(stats, e);
        }

        return stats;
    }

    internal static void Accumulate(ExitStatistics stats, in TraceEvent e)
    {
        switch (e.Kind)
        {
            case TraceEventKind.Interrupt:
                stats.CountInterrupt(e.Address, e.Device);
                break;
            case TraceEventKind.Fault:
            case TraceEventKind.Restart:
                stats.CountDeviceEvent(e.Device, e.Detail ?? e.Kind.Name());
                break;
            default:
                stats.Record(e.Vcpu, e.Kind, string.Intern(e.Device), e.Kind.IsAccess() ? e.RangeStart : e.Address, e.DurationNs);
                break;
        }
    }
}

public enum TraceFileFormat
{
    Chrome,
    Jsonl,
}
