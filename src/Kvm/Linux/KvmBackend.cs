namespace ActorVmm.Kvm.Linux;

/// <summary>
/// What serves the host's /dev/kvm, read from /sys/module. Hardware KVM loads kvm_intel or kvm_amd. Some cloud
/// sandboxes load kvm_pvm instead, which is KVM without VT-x or AMD-V. Small test guests run under it, but a stock
/// Linux kernel stalls in early boot, under QEMU as well as under ActorVmm.
/// </summary>
public static class KvmBackend
{
    public const string Pvm = "kvm_pvm";

    /// <summary>
    /// The module name of a software /dev/kvm backend (<see cref="Pvm"/>), or null when hardware KVM
    /// (kvm_intel or kvm_amd) is loaded or no known backend is found.
    /// </summary>
    public static string? SoftwareBackend(string sysModule = "/sys/module")
    {
        if (Directory.Exists(Path.Combine(sysModule, "kvm_intel")) || Directory.Exists(Path.Combine(sysModule, "kvm_amd")))
        {
            return null;
        }

        return Directory.Exists(Path.Combine(sysModule, Pvm)) ? Pvm : null;
    }
}
