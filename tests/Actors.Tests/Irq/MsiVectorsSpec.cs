using ActorVmm.Actors.Irq;
using ActorVmm.Devices;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Irq;

public class MsiVectorsSpec : TestKit
{
    private const ulong Apic = 0xFEE0_0000;

    [Fact]
    public void A_request_for_msi_vectors_should_get_a_line_that_also_carries_vectors_on_their_own_gsis()
    {
        var chip = new InMemoryIrqChip();
        var irq = Sys.ActorOf(IrqActor.Props(chip));
        irq.Tell(new IrqProtocol.Connect([("disk0", IrqRequest.Level(16) with { MsiVectors = 2 }), ("rng0", IrqRequest.Level(17) with { MsiVectors = 2 })]));
        var lines = ExpectMsg<IrqProtocol.Connected>().Lines;
        var disk = Assert.IsAssignableFrom<IMsiInterrupts>(lines["disk0"]);
        var rng = Assert.IsAssignableFrom<IMsiInterrupts>(lines["rng0"]);

        var routed = disk.SetMessage(1, new MsiMessage(Apic, 0x41));
        rng.SetMessage(0, new MsiMessage(Apic, 0x50));
        disk.Trigger(1);
        disk.Trigger(1);
        disk.Trigger(0); // never routed: nothing
        rng.Trigger(0);
        lines["disk0"].SetLevel(true); // INTx still works beside the vectors

        Assert.True(routed);
        Assert.Equal(2, disk.VectorCount);
        Assert.Equal(new MsiMessage(Apic, 0x41), chip.MsiRoute(25));
        Assert.Equal(2, chip.MsiDelivered(25));
        Assert.Equal(0, chip.MsiDelivered(24));
        Assert.Equal(1, chip.MsiDelivered(26));
        Assert.True(chip.IsAsserted(16));
        irq.Tell(IrqProtocol.GetRouting.Instance);
        Assert.Equal(2, ExpectMsg<IrqProtocol.Routing>().Stats.Raised(25));
    }

    [Fact]
    public void Guest_garbage_messages_and_vector_numbers_should_be_refused_without_throwing()
    {
        var chip = new InMemoryIrqChip();
        var irq = Sys.ActorOf(IrqActor.Props(chip));
        irq.Tell(new IrqProtocol.Connect([("disk0", IrqRequest.Level(16) with { MsiVectors = 2 })]));
        var msi = (IMsiInterrupts)ExpectMsg<IrqProtocol.Connected>().Lines["disk0"];

        var badAddress = msi.SetMessage(0, new MsiMessage(0x1234_5678, 0xFFFF_FFFF));
        var badVector = msi.SetMessage(0xFFFF, new MsiMessage(Apic, 0x41));
        var negative = msi.SetMessage(-1, new MsiMessage(Apic, 0x41));
        msi.Trigger(0);
        msi.Trigger(0xFFFF);
        msi.Trigger(-1);
        msi.ClearMessage(0xFFFF);

        Assert.False(badAddress);
        Assert.False(badVector);
        Assert.False(negative);
        Assert.Null(chip.MsiRoute(24));
        Assert.Equal(0, chip.MsiDelivered(24));
    }

    [Fact]
    public void Without_an_msi_capable_backend_the_device_should_get_a_plain_intx_line()
    {
        var irq = Sys.ActorOf(IrqActor.Props(new IntxOnlyChip(new InMemoryIrqChip())));
        irq.Tell(new IrqProtocol.Connect([("disk0", IrqRequest.Level(16) with { MsiVectors = 2 })]));

        var line = ExpectMsg<IrqProtocol.Connected>().Lines["disk0"];

        Assert.IsNotAssignableFrom<IMsiInterrupts>(line);
    }

    [Fact]
    public void Stopping_the_irq_actor_should_revoke_the_vectors()
    {
        var chip = new InMemoryIrqChip();
        var irq = Sys.ActorOf(IrqActor.Props(chip));
        irq.Tell(new IrqProtocol.Connect([("disk0", IrqRequest.Level(16) with { MsiVectors = 1 })]));
        var msi = (IMsiInterrupts)ExpectMsg<IrqProtocol.Connected>().Lines["disk0"];
        msi.SetMessage(0, new MsiMessage(Apic, 0x41));
        Watch(irq);

        Sys.Stop(irq);
        ExpectTerminated(irq);
        msi.Trigger(0);

        Assert.Null(chip.MsiRoute(24));
        Assert.Equal(0, chip.MsiDelivered(24));
    }

    private sealed class IntxOnlyChip(IIrqChipBackend inner) : IIrqChipBackend
    {
        public IIrqLineBackend CreateLine(uint gsi, bool level) => inner.CreateLine(gsi, level);
    }
}
