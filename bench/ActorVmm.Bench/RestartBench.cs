using System.Diagnostics;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Supervision;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Bench;

/// <summary>
/// How long a supervised restart takes: an injected crash (inline write at offset 1) until the next read is served by
/// the rebuilt instance with its state restored (the read queues behind the crash). p50/p99 over --restarts N.
/// </summary>
internal static class RestartBench
{
    public static int Run(string[] args)
    {
        var restarts = args.Length >= 2 && args[0] == "--restarts" ? int.Parse(args[1]) : 200;
        var config = ConfigurationFactory.ParseString("akka.loglevel = OFF\nakka.stdout-loglevel = OFF");
        using var system = ActorSystem.Create("restart-bench", config);
        var injector = new FaultInjector([FaultPlan.Parse("reg0:crash,offset=1")]);
        var blueprint = injector.Wrap(new DeviceBlueprint("reg0", _ => new StatefulRegister("reg0"), [BusRange.Pio(0x100, 2)]));
        var endpoint = new DeviceEndpoint("reg0", new DeviceSettings(TimeSpan.FromSeconds(5)), inline: blueprint.Inline);
        var supervision = new SupervisionSettings(int.MaxValue, TimeSpan.FromMinutes(1), RestartStateSource.Saved, BudgetExceededPolicy.StopVm, new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Restart });
        var context = new DeviceContext("reg0", null, null!);
        system.ActorOf(DeviceSupervisorActor.Props([new DeviceSupervisorProtocol.DeviceSpec(endpoint, () => blueprint.Factory(context))], supervision, ActorRefs.Nobody));
        while (endpoint.Actor is null)
        {
            Thread.Sleep(1);
        }

        endpoint.Write(0, [0x42]);
        var samples = new List<double>();
        Span<byte> data = stackalloc byte[1];
        for (var i = 0; i < restarts + 20; i++)
        {
            var start = Stopwatch.GetTimestamp();
            endpoint.Write(1, [0]);
            endpoint.Read(0, data);
            var elapsed = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            if (data[0] != 0x42)
            {
                Console.Error.WriteLine($"restart {i}: state lost (read 0x{data[0]:x2})");
                return 1;
            }

            if (i >= 20)
            {
                samples.Add(elapsed);
            }
        }

        samples.Sort();
        double At(double p) => samples[Math.Min(samples.Count - 1, (int)Math.Ceiling(p / 100 * samples.Count) - 1)];
        Console.WriteLine($"restart (crash -> next read served by the restored instance), {samples.Count} restarts after 20 warm-up: p50 {At(50):N0} us, p99 {At(99):N0} us, max {samples[^1]:N0} us; endpoint restarts {endpoint.Restarts}");
        return 0;
    }

    private sealed class StatefulRegister(string name) : IBusDevice, IStatefulDevice
    {
        private byte _value;

        public string Name { get; } = name;

        public void Read(ulong offset, Span<byte> data) => data.Fill(_value);

        public void Write(ulong offset, ReadOnlySpan<byte> data) => _value = data[0];

        public object SaveState() => _value;

        public void RestoreState(object state) => _value = (byte)state;

        public void Reset() => _value = 0;
    }
}
