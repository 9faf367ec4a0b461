using ActorVmm.Kvm.Linux;
using Xunit;

namespace ActorVmm.Kvm.Tests.Linux;

public sealed class KvmBackendTests : IDisposable
{
    private readonly string _sysModule = Directory.CreateTempSubdirectory("actorvmm-sysmodule-").FullName;

    public void Dispose() => Directory.Delete(_sysModule, recursive: true);

    [Fact]
    public void Kvm_pvm_alone_should_be_reported_as_a_software_backend()
    {
        Directory.CreateDirectory(Path.Combine(_sysModule, "kvm"));
        Directory.CreateDirectory(Path.Combine(_sysModule, "kvm_pvm"));

        Assert.Equal(KvmBackend.Pvm, KvmBackend.SoftwareBackend(_sysModule));
    }

    [Theory]
    [InlineData("kvm_intel")]
    [InlineData("kvm_amd")]
    public void Hardware_kvm_should_win_even_when_kvm_pvm_is_loaded_too(string hardware)
    {
        Directory.CreateDirectory(Path.Combine(_sysModule, "kvm_pvm"));
        Directory.CreateDirectory(Path.Combine(_sysModule, hardware));

        Assert.Null(KvmBackend.SoftwareBackend(_sysModule));
    }

    [Fact]
    public void No_known_module_should_report_no_software_backend()
    {
        Directory.CreateDirectory(Path.Combine(_sysModule, "kvm"));

        Assert.Null(KvmBackend.SoftwareBackend(_sysModule));
    }
}
