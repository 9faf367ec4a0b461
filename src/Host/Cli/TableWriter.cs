using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ActorVmm.Host.Cli;

/// <summary>Plain aligned columns from JSON objects: a header of upper-cased keys, one row per object.</summary>
internal static class TableWriter
{
    public static void Write(TextWriter output, IReadOnlyList<JsonElement> rows)
    {
        var columns = new List<string>();
        foreach (var row in rows.Where(r => r.ValueKind == JsonValueKind.Object))
        {
            foreach (var property in row.EnumerateObject())
            {
                if (!columns.Contains(property.Name))
                {
                    columns.Add(property.Name);
                }
            }
        }

        if (columns.Count == 0)
        {
            output.WriteLine(rows.Count == 0 ? "(none)" : string.Join(Environment.NewLine, rows.Select(Cell)));
            return;
        }

        var cells = rows.Select(row => columns.Select(c => row.ValueKind == JsonValueKind.Object && row.TryGetProperty(c, out var v) ? Cell(v) : "-").ToArray()).ToList();
        var header = columns.Select(c => c.ToUpperInvariant()).ToArray();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(r => r[i].Length))).ToArray();
        WriteRow(output, header, widths);
        foreach (var row in cells)
        {
            WriteRow(output, row, widths);
        }
    }

    /// <summary>A value as a cell: strings as they are, numbers in invariant form, null as '-', an exit as "reason (code): message".</summary>
    public static string Cell(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number => value.TryGetInt64(out var n) ? n.ToString(CultureInfo.InvariantCulture) : value.GetDouble().ToString("0.###", CultureInfo.InvariantCulture),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null or JsonValueKind.Undefined => "-",
        JsonValueKind.Object when value.TryGetProperty("reason", out var reason) => Exit(value, reason),
        _ => value.GetRawText(),
    };

    private static string Exit(JsonElement exit, JsonElement reason)
    {
        var text = new StringBuilder(Cell(reason));
        if (exit.TryGetProperty("code", out var code))
        {
            text.Append(" (").Append(Cell(code)).Append(')');
        }

        if (exit.TryGetProperty("message", out var message) && Cell(message) is { Length: > 0 } line and not "-")
        {
            text.Append(": ").Append(line);
        }

        return text.ToString();
    }

    private static void WriteRow(TextWriter output, string[] cells, int[] widths)
    {
        var line = new StringBuilder();
        for (var i = 0; i < cells.Length; i++)
        {
            line.Append(i == cells.Length - 1 ? cells[i] : cells[i].PadRight(widths[i] + 2));
        }

        output.WriteLine(line.ToString().TrimEnd());
    }
}
