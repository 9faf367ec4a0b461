using ActorVmm.Actors;
using ActorVmm.Actors.Bus;
using ActorVmm.Host.Cli;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Host.Tracing;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Vmm.Tests.Tracing;

/// <summary>
/// The HTML report (<c>actorvmm trace report FILE --html OUT</c>) of a trace recorded through the actor path renders
/// in headless Chromium (Debian's <c>chromium</c>) without script errors, with its tables, exit-rate chart, latency
/// histograms and a working legend. Needs no KVM (the exits are replayed); fails when chromium is missing.
/// </summary>
[Trait("Category", "Browser")]
public sealed class HtmlReportBrowserTests
{
    private const ushort ProbePort = 0x510;
    private const ushort UnclaimedPort = 0x80;
    private const ulong MmioBase = 0xD_0000;

    [Fact]
    public async Task Html_report_of_a_recorded_trace_should_render_in_headless_chromium_without_script_errors()
    {
        var trace = await RecordTraceAsync();
        var html = Path.Combine(Path.GetTempPath(), $"actorvmm-report-{Guid.NewGuid():N}.html");
        try
        {
            var stderr = new StringWriter();
            Assert.Equal(0, CliApp.Run(["trace", "report", trace, "--html", html], stdout: new StringWriter(), stderr: stderr));

            // After the page's own script: click the first legend entry, which must hide its series in the chart.
            var page = HeadlessChromium.Render(File.ReadAllText(html), """
                var s=document.querySelector('.legend span');var g=s&&document.getElementById(s.getAttribute('data-series'));
                if(s&&g){s.click();document.documentElement.setAttribute('data-legend',g.style.display==='none'&&s.classList.contains('off')?'hides':'stuck');}
                """);

            Assert.Empty(page.ScriptErrors);
            Assert.Contains("<table>", page.Dom);
            Assert.Equal(4, page.Dom.Split("<table>").Length - 1); // by reason, device, range, vCPU
            Assert.Contains("id=\"rate-chart\"", page.Dom);
            Assert.Equal(3, page.Dom.Split("class=\"histogram\"").Length - 1); // probe, reg, unclaimed
            Assert.Contains("class=\"legend\"", page.Dom);
            Assert.Contains("data-legend=\"hides\"", page.Dom);
            foreach (var name in new[] { "pio_out", "pio_in", "mmio_write", "mmio_read", "probe", "reg", "unclaimed" })
            {
                Assert.Contains(name, page.Dom);
            }
        }
        finally
        {
            File.Delete(trace);
            File.Delete(html);
        }
    }

    [Fact]
    public void Chromium_check_should_report_a_script_error_and_a_console_error()
    {
        var page = HeadlessChromium.Render(
            "<!DOCTYPE html><html><head><title>t</title></head><body><p>x</p><script>console.error('logged failure');undefinedFunction();</script></body></html>");

        Assert.Contains(page.ScriptErrors, e => e.Contains("undefinedFunction", StringComparison.Ordinal));
        Assert.Contains(page.ScriptErrors, e => e.Contains("logged failure", StringComparison.Ordinal));
    }

    /// <summary>Plays a known exit stream through a VM actor (no KVM) with statistics and a jsonl trace on; returns the file.</summary>
    private static async Task<string> RecordTraceAsync()
    {
        var exits = new List<TraceEvent>();
        for (var i = 0; i < 300; i++)
        {
            exits.Add(new TraceEvent { Kind = TraceEventKind.PioOut, Address = ProbePort, Size = 1, Value = (ulong)(i & 0xff) });
            exits.Add(new TraceEvent { Kind = TraceEventKind.PioIn, Address = ProbePort, Size = 1 });
            if (i % 3 == 0)
            {
                exits.Add(new TraceEvent { Kind = TraceEventKind.MmioWrite, Address = MmioBase + 0x10, Size = 4, Value = (ulong)i });
                exits.Add(new TraceEvent { Kind = TraceEventKind.MmioRead, Address = MmioBase + 0x14, Size = 4 });
            }

            if (i % 10 == 0)
            {
                exits.Add(new TraceEvent { Kind = TraceEventKind.PioIn, Address = UnclaimedPort, Size = 1 });
            }
        }

        var file = Path.Combine(Path.GetTempPath(), $"actorvmm-trace-{Guid.NewGuid():N}.jsonl");
        var tracer = new VmTracer(statistics: true, JsonlTraceWriter.Create(file, "report-test"));
        var system = ActorSystem.Create("html-report", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        try
        {
            var blueprint = new VmBlueprint(
                "report-test",
                [new ReplayVcpu(0, exits)],
                [
                    new DeviceBlueprint("probe", _ => new LatchDevice("probe"), [BusRange.Pio(ProbePort, 1)]),
                    new DeviceBlueprint("reg", _ => new LatchDevice("reg"), [BusRange.Mmio(MmioBase, 0x1000)]),
                ],
                new InMemoryIrqChip(),
                new DeviceSettings(TimeSpan.FromSeconds(5)),
                SupervisionSettings.Default)
            {
                Tracer = tracer,
            };
            var vm = VmActor.Spawn(system, blueprint, "report-test");
            var reason = await vm.Stopped.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(VmStopReasonKind.PowerOff, reason.Kind);
        }
        finally
        {
            await tracer.CompleteAsync();
            await system.Terminate();
        }

        Assert.Equal(0, tracer.Dropped);
        return file;
    }

    /// <summary>Reads back the last byte written (0 at first).</summary>
    private sealed class LatchDevice(string name) : IBusDevice
    {
        private byte _value;

        public string Name => name;

        public void Read(ulong offset, Span<byte> data) => data.Fill(_value);

        public void Write(ulong offset, ReadOnlySpan<byte> data) => _value = data.IsEmpty ? (byte)0 : data[0];
    }
}
