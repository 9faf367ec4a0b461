using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices.Acpi;
using ActorVmm.TestSupport.Fakes;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Endpoints;

/// <summary>A graceful stop needs the device's own answer to a power-button press, never "queued".</summary>
public class PowerButtonThroughEndpointSpec : TestKit
{
    [Fact]
    public async Task HostInputNow_should_return_the_devices_own_answer_refused_until_the_guest_enables_the_button()
    {
        var pm = new AcpiPmDevice("acpi-pm", new RecordingInterruptLine(), () => { });
        var endpoint = new DeviceEndpoint("acpi-pm", DeviceSettings.Default, Sys.Log);
        endpoint.Bind(Sys.ActorOf(DeviceActor.Props(endpoint, () => pm)));
        await AwaitConditionAsync(() => Task.FromResult(endpoint.CurrentDevice is not null), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(10));

        Assert.Equal(0, endpoint.HostInputNow([AcpiPmDevice.HostPowerButton]));

        endpoint.Write(AcpiPmDevice.EnableOffset, BitConverter.GetBytes(AcpiPmDevice.PwrBtnEn));
        await AwaitConditionAsync(() => Task.FromResult(pm.PowerButtonEnabled), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(10));

        Assert.Equal(1, endpoint.HostInputNow([AcpiPmDevice.HostPowerButton]));
        Assert.Equal(0, endpoint.HostInputNow([]));
        Assert.Equal(1, pm.PowerButtonPresses);
    }
}
