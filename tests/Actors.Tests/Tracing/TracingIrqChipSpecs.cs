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
}
