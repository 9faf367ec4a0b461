using ActorVmm.Actors.Settings;
using ActorVmm.Host.Composition;
using ActorVmm.Host.Settings;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Virtio;

/// <summary>
/// virtio-mmio devices that do not fit the machine are a one-line <see cref="VmBuildException"/> (the CLI's exit 2),
/// found before any KVM resource is opened. These run without /dev/kvm.
/// </summary>
public sealed class VirtioMmioMachineTests
{
    [Fact]
    public void More_mmio_devices_than_windows_should_be_a_one_line_machine_error()
    {
        var images = Enumerable.Range(0, 33).Select(i => TestImage.Create(4096, $"d{i}")).ToList();
        try
        {
            var error = BuildFails(vm => vm with
            {
                Transport = VirtioTransportKind.Mmio,
                Disks = [.. images.Select(i => new DiskSettings(i.Path, ReadOnly: true))],
            });

            Assert.StartsWith("33 virtio-mmio devices asked for (disk0, disk1,", error);
            Assert.EndsWith("but a VM has room for 32", error);
            Assert.DoesNotContain('\n', error);
        }
        finally
        {
            images.ForEach(i => i.Dispose());
        }
    }

    [Fact]
    public void An_mmio_device_beside_eight_pci_ones_should_be_refused_for_want_of_an_interrupt_input()
    {
        var images = Enumerable.Range(0, 8).Select(i => TestImage.Create(4096, $"p{i}")).ToList();
        try
        {
            var error = BuildFails(vm => vm with
            {
                Disks = [.. images.Select(i => new DiskSettings(i.Path, ReadOnly: true) { Transport = VirtioTransportKind.Pci })],
                Rng = true,
                Transport = VirtioTransportKind.Mmio,
            });

            Assert.StartsWith("8 virtio-pci devices take every PCI interrupt input (16-23), which virtio-mmio devices (rng0)", error);
            Assert.DoesNotContain('\n', error);
        }
        finally
        {
            images.ForEach(i => i.Dispose());
        }
    }

    private static string BuildFails(Func<VmSettings, VmSettings> configure)
    {
        var reference = SettingsLoader.Reference;
        var settings = reference with { Vm = configure(reference.Vm with { Kernel = null, Initrd = null }) };

        return Assert.Throws<VmBuildException>(() => VmBuilder.Build(settings, VmIo.Disconnected)).Message;
    }
}
