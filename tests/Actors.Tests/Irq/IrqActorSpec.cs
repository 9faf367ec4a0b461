using ActorVmm.Actors.Irq;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Irq;

public class IrqActorSpec : TestKit
{
    [Fact]
    public void A_shared_level_line_should_stay_high_while_any_device_holds_it_and_reassert_after_EOI()
    {
        var chip = new InMemoryIrqChip();
        var irq = Sys.ActorOf(IrqActor.Props(chip));
        irq.Tell(new IrqProtocol.Connect([("pci0", IrqRequest.Level(10)), ("pci1", IrqRequest.Level(10))]));
        var lines = ExpectMsg<IrqProtocol.Connected>().Lines;

        lines["pci0"].SetLevel(true);
        lines["pci1"].SetLevel(true);
        lines["pci0"].SetLevel(false);
        Assert.True(chip.IsAsserted(10));
        chip.Eoi(10);
        Assert.Equal(2, chip.Delivered(10));

        lines["pci1"].SetLevel(false);
        chip.Eoi(10);
        Assert.False(chip.IsAsserted(10));
        Assert.Equal(2, chip.Delivered(10));

        irq.Tell(IrqProtocol.GetRouting.Instance);
        var routing = ExpectMsg<IrqProtocol.Routing>();
        Assert.Equal(10u, routing.DeviceToGsi["pci1"]);
        Assert.Equal(1, routing.Stats.Raised(10));
    }

    [Fact]
    public void SetLevel_on_an_edge_line_should_raise_one_interrupt_per_rising_edge()
    {
        var chip = new InMemoryIrqChip();
        var irq = Sys.ActorOf(IrqActor.Props(chip));
        irq.Tell(new IrqProtocol.Connect([("serial0", IrqRequest.Edge(4))]));
        var line = ExpectMsg<IrqProtocol.Connected>().Lines["serial0"];

        line.SetLevel(true);
        line.SetLevel(true);
        line.SetLevel(false);
        line.SetLevel(true);
        line.Trigger();

        Assert.Equal(3, chip.Delivered(4));
    }

    [Fact]
    public void Conflicting_or_duplicate_requests_should_fail_without_creating_lines_twice()
    {
        var chip = new InMemoryIrqChip();
        var irq = Sys.ActorOf(IrqActor.Props(chip));

        irq.Tell(new IrqProtocol.Connect([("a", IrqRequest.Edge(5)), ("b", IrqRequest.Level(5))]));
        Assert.Contains("already edge", ExpectMsg<IrqProtocol.ConnectFailed>().Reason);

        irq.Tell(new IrqProtocol.Connect([("c", IrqRequest.Edge(6)), ("c", IrqRequest.Edge(7))]));
        Assert.Contains("second interrupt line", ExpectMsg<IrqProtocol.ConnectFailed>().Reason);
    }

    [Fact]
    public void Stopping_the_IRQ_actor_should_close_its_lines_and_silence_the_pins()
    {
        var chip = new InMemoryIrqChip();
        var irq = Sys.ActorOf(IrqActor.Props(chip));
        irq.Tell(new IrqProtocol.Connect([("serial0", IrqRequest.Edge(4))]));
        var line = ExpectMsg<IrqProtocol.Connected>().Lines["serial0"];
        line.Trigger();

        Watch(irq);
        Sys.Stop(irq);
        ExpectTerminated(irq);
        line.Trigger();

        Assert.True(chip.IsDisposed(4));
        Assert.Equal(1, chip.Delivered(4));
    }
}
