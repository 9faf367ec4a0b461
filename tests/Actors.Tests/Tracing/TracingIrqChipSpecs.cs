using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Tracing;
using ActorVmm.Host.Tracing;
using ActorVmm.Devices;
using Xunit;

namespace ActorVmm.Actors.Tests.Tracing;

public class TracingIrqChipSpecs
{
    private sealed class RecordingSink : ITraceSink
    {
        public List<(uint Gsi, string Device)> Interrupts { get; } = [];

        public void Interrupt(uint gsi, string device) => Interrupts.Add((gsi, device));

        public void Fault(string device, string kind)
        {
        }

        public void Restart(string device)
        {
        }
    }

    [Fact]
    public void Tracing_should_keep_msi_vectors_and_record_each_vector_sent()
    {
        var chip = new InMemoryIrqChip();
        var sink = new RecordingSink();
        var tracing = new TracingIrqChip(chip, sink, new Dictionary<uint, string>());

        using var vectors = tracing.CreateMsiVectors(2);
        Assert.Equal(2, vectors.VectorCount);
        Assert.True(vectors.SetMessage(1, new MsiMessage(0xFEE0_0000, 0x41)));
        vectors.Trigger(1);
        vectors.Trigger(5);

        var gsi = vectors.Gsis[1];
        Assert.Equal(1, chip.MsiDelivered(gsi));
        Assert.Equal([(gsi, $"msi-gsi{gsi}")], sink.Interrupts);
    }

    [Fact]
    public void Without_a_sink_interrupts_should_pass_through_and_a_sink_set_later_should_see_the_next_ones()
    {
        var chip = new InMemoryIrqChip();
        var tracing = new TracingIrqChip(chip, null, new Dictionary<uint, string> { [4] = "serial0" });
        using var edge = tracing.CreateLine(4, level: false);
        using var level = tracing.CreateLine(9, level: true);

        edge.Trigger();
        level.SetLevel(true);
        var sink = new RecordingSink();
        tracing.Sink = sink;
        edge.Trigger();
        level.SetLevel(true);
        level.SetLevel(false);
        level.SetLevel(true);
        tracing.Sink = null;
        edge.Trigger();

        Assert.Equal(3, chip.Delivered(4));
        Assert.Equal([(4u, "serial0"), (9u, "gsi9")], sink.Interrupts);
    }
}
