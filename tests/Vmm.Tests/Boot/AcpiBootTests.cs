using ActorVmm.Actors;
using ActorVmm.Actors.Vm;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Boot;

/// <summary>The stock kernel finds the ACPI tables through the zero page and enumerates the PC's devices from the DSDT.</summary>
[Trait("Category", "Kvm")]
public sealed class AcpiBootTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Stock_kernel_should_find_the_acpi_tables_and_the_dsdt_devices_without_errors()
    {
        var outcome = await GuestRun.BootAsync(cpus: 2, script: "acpi", vm => vm with { Rng = true });
        var console = outcome.Console;
        foreach (var line in console.Split('\n').Where(l => l.StartsWith("acpi: ", StringComparison.Ordinal)))
        {
            output.WriteLine(line.TrimEnd('\r'));
        }

        Assert.True(outcome.Reason.Kind == VmStopReasonKind.Reset, $"stopped with {outcome.Reason}; console:\n{outcome.Tail}");
        Assert.Contains("ActorVmm guest init: done rc=0", console);
        var tables = Line(console, "acpi: tables=");
        foreach (var table in new[] { "APIC", "DSDT", "FACP", "FACS" })
        {
            Assert.Contains(table, tables);
        }

        Assert.Contains("ACPI: Interpreter enabled", console);
        Assert.Contains("acpi: errors=0", console);
        Assert.DoesNotContain("ACPI Error", console);
        Assert.DoesNotContain("ACPI BIOS Error", console);
        foreach (var hid in new[] { "PNP0A03", "PNP0501", "PNP0303", "QEMU0001" })
        {
            Assert.Contains($"hid={hid}", console);
        }

        Assert.Contains("acpi: nproc=2", console);
    }

    private static string Line(string console, string prefix)
    {
        var at = console.IndexOf(prefix, StringComparison.Ordinal);
        Assert.True(at >= 0, $"no '{prefix}' line on the console");
        var end = console.IndexOf('\n', at);
        return end < 0 ? console[at..] : console[at..end];
    }
}
