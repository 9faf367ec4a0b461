using ActorVmm.Actors;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Linux;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Virtio;

/// <summary>
/// One boot of the stock kernel (1 vCPU) with a virtio-blk disk, the virtio console and virtio-rng on PCI (or, in
/// <see cref="VirtioMmioGuestFixture"/>, virtio-mmio), running tools/guest/tests/virtio.sh; the facts below check
/// what it saw. The image lives under artifacts/test-images.
/// </summary>
public class VirtioGuestFixture : IAsyncLifetime
{
    public const long ImageBytes = 8L << 20;

    /// <summary>The transport every device of the boot is on.</summary>
    public virtual VirtioTransportKind Transport => VirtioTransportKind.Pci;

    public string Pattern { get; } = $"ACTORVMM-HOST-PATTERN-{Guid.NewGuid():N}";

    public TestImage Image { get; private set; } = null!;

    public GuestOutcome Outcome { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        // In the temporary directory (a tmpfs inside the nested runner, which punches holes; the 9p share does not).
        Image = TestImage.Create(ImageBytes, Pattern, Path.GetTempPath());
        Outcome = await VirtioBoot.RunAsync(cpus: 1, Image.Path, Transport);
    }

    public ValueTask DisposeAsync()
    {
        Image?.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The same boot with every device on virtio-mmio (<c>--transport mmio</c>), found through the DSDT.</summary>
public sealed class VirtioMmioGuestFixture : VirtioGuestFixture
{
    public override VirtioTransportKind Transport => VirtioTransportKind.Mmio;
}

internal static class VirtioBoot
{
    public static Task<GuestOutcome> RunAsync(int cpus, string image, VirtioTransportKind transport = VirtioTransportKind.Pci) =>
        GuestRun.BootAsync(cpus, "virtio", vm => vm with
        {
            Disks = [new DiskSettings(image, ReadOnly: false)],
            Console = ConsoleDevice.Virtio,
            Rng = true,
            Transport = transport,
        });
}

[Trait("Category", "Kvm")]
public sealed class VirtioPciBootTests(VirtioGuestFixture guest) : VirtioBootFacts(guest), IClassFixture<VirtioGuestFixture>
{
    [Fact]
    public void Guest_should_bind_the_virtio_pci_drivers_to_all_three_functions_with_pci_irqs()
    {
        var pci = Guest.Outcome.Lines("virtio: pci ");

        Assert.True(pci.Count >= 4, $"PCI functions seen: {string.Join(" | ", pci)}\n{Guest.Outcome.Tail}");
        Assert.Contains(pci, l => l.Contains("0x1af4:0x1042") && l.Contains("driver=virtio-pci")); // block
        Assert.Contains(pci, l => l.Contains("0x1af4:0x1043") && l.Contains("driver=virtio-pci")); // console
        Assert.Contains(pci, l => l.Contains("0x1af4:0x1044") && l.Contains("driver=virtio-pci")); // entropy
        Assert.All(pci.Where(l => l.Contains("0x1af4")), l => Assert.Matches(@"irq=(1[6-9]|2[0-3]) ", l));
        Assert.Equal(VmStopReasonKind.Reset, Guest.Outcome.Reason.Kind);
    }
}

[Trait("Category", "Kvm")]
public sealed class VirtioMmioBootTests(VirtioMmioGuestFixture guest) : VirtioBootFacts(guest), IClassFixture<VirtioMmioGuestFixture>
{
    [Fact]
    public void Guest_should_bind_virtio_mmio_to_the_three_devices_the_dsdt_announces_and_no_pci_function()
    {
        var mmio = Guest.Outcome.Lines("virtio: mmio ");

        Assert.True(mmio.Count == 3, $"virtio-mmio devices bound: {string.Join(" | ", mmio)}\n{Guest.Outcome.Tail}");
        Assert.Contains(mmio, l => l.StartsWith("LNRO0005:", StringComparison.Ordinal) && l.Contains(":0x0002 driver=virtio_blk"));
        Assert.Contains(mmio, l => l.Contains(":0x0003 driver=virtio_console"));
        Assert.Contains(mmio, l => l.Contains(":0x0004 driver=virtio_rng"));
        Assert.DoesNotContain(Guest.Outcome.Lines("virtio: pci "), l => l.Contains("0x1af4"));
        Assert.Equal(VmStopReasonKind.Reset, Guest.Outcome.Reason.Kind);
    }

    [Fact]
    public void Virtio_mmio_interrupts_should_be_level_triggered_io_apic_inputs_above_the_isa_irqs()
    {
        var lines = Guest.Outcome.Lines("virtio: interrupts ").Where(l => l.Contains("virtio", StringComparison.Ordinal)).ToList();

        Assert.True(lines.Count >= 3, $"interrupt lines: {string.Join(" | ", lines)}\n{Guest.Outcome.Tail}");
        Assert.All(lines, l => Assert.Matches(@"IO-APIC\s+(1[6-9]|2[0-3])-fasteoi\s+virtio\d", l));
    }
}

/// <summary>What the guest must see of the disk, console and rng over either transport.</summary>
public abstract class VirtioBootFacts(VirtioGuestFixture guest)
{
    private protected VirtioGuestFixture Guest { get; } = guest;

    [Fact]
    public void Guest_should_read_the_host_pattern_from_vda()
    {
        Assert.Equal($"{VirtioGuestFixture.ImageBytes / 512}", Guest.Outcome.Value("virtio: vda sectors=")?.Split(' ')[0]);
        Assert.Equal(Guest.Pattern, Guest.Outcome.Value("virtio: vda read="));
    }

    [Fact]
    public void Host_image_should_hold_what_the_guest_wrote_and_synced()
    {
        Assert.Equal("rc=0", Guest.Outcome.Value("virtio: vda wrote"));
        Assert.Equal($"GUEST:{Guest.Pattern}", Guest.Image.ReadText(4096, 512));
        Assert.Equal(Guest.Pattern, Guest.Image.ReadText(0, 512)); // sector 0 untouched
    }

    [Fact]
    public void Guest_discard_should_reach_the_host_image_as_a_hole()
    {
        Assert.Equal($"{VirtioBlockDevice.MaxRangeSectors * 512L} write_zeroes_max_bytes={VirtioBlockDevice.MaxRangeSectors * 512L}",
            Guest.Outcome.Value("virtio: vda discard_max_bytes="));
        Assert.Equal("0", Guest.Outcome.Value("virtio: vda discard rc="));
        var punches = FileSpace.PunchesHoles(Path.GetDirectoryName(Guest.Image.Path)!);
        // Where the host cannot free a range, a discard changes nothing: the guest's marker is still there.
        Assert.Equal(punches ? string.Empty : "DISCARD-ME", Guest.Image.ReadText(16384, 16384));
    }

    [Fact]
    public void Text_written_to_hvc0_should_reach_the_virtio_console_output()
    {
        var bootId = Guest.Outcome.Value("virtio: boot_id=");

        Assert.False(string.IsNullOrEmpty(bootId), Guest.Outcome.Tail);
        Assert.Contains($"hvc0: hello from the guest boot_id={bootId}", Guest.Outcome.VirtioConsole);
        Assert.DoesNotContain("hvc0: hello", Guest.Outcome.Console);
    }

    [Fact]
    public void Hwrng_should_give_sixteen_bytes_from_virtio_rng()
    {
        var bytes = Guest.Outcome.Value("virtio: hwrng bytes=");

        Assert.StartsWith("virtio_rng", Guest.Outcome.Value("virtio: hwrng current=") ?? string.Empty);
        Assert.NotNull(bytes);
        Assert.Matches("^[0-9a-f]{32}$", bytes);
        Assert.NotEqual(new string('0', 32), bytes);
    }
}

[Trait("Category", "Kvm")]
public sealed class VirtioPciTwoVcpuTests
{
    [Theory]
    [InlineData(VirtioTransportKind.Pci)]
    [InlineData(VirtioTransportKind.Mmio)]
    public async Task Disk_console_and_rng_should_all_work_at_once_with_two_vcpus(VirtioTransportKind transport)
    {
        var pattern = $"ACTORVMM-2CPU-{Guid.NewGuid():N}";
        using var image = TestImage.Create(4L << 20, pattern);

        var outcome = await VirtioBoot.RunAsync(cpus: 2, image.Path, transport);

        Assert.True(outcome.Reason.Kind == VmStopReasonKind.Reset, $"stopped with {outcome.Reason}\n{outcome.Tail}");
        Assert.Equal(pattern, outcome.Value("virtio: vda read="));
        Assert.Equal($"GUEST:{pattern}", image.ReadText(4096, 512));
        Assert.Contains($"hvc0: hello from the guest boot_id={outcome.Value("virtio: boot_id=")}", outcome.VirtioConsole);
        Assert.Matches("^[0-9a-f]{32}$", outcome.Value("virtio: hwrng bytes=") ?? string.Empty);
        Assert.Contains("virtio: done", outcome.Console);
    }
}
