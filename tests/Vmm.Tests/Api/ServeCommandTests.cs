using ActorVmm.Host.Serve;
using ActorVmm.Host.Api;
using ActorVmm.Host.Cli;
using ActorVmm.Host.Settings;

namespace ActorVmm.Vmm.Tests.Api;

/// <summary><c>actorvmm serve</c>: refuses an existing socket path, serves until stopped, then disposes the service and removes the socket.</summary>
public sealed class ServeCommandTests
{
    private static string TempSocket() => Path.Combine("/tmp", "avmm-serve-" + Guid.NewGuid().ToString("N")[..8] + ".sock");

    [Fact]
    public async Task Serve_should_refuse_a_socket_path_that_exists_and_leave_it_alone()
    {
        var path = TempSocket();
        await File.WriteAllTextAsync(path, "keep", TestContext.Current.CancellationToken);
        var fake = new FakeVmService();
        var stderr = new StringWriter();
        try
        {
            var code = await Task.Run(() => CliApp.Run(["serve", "--api-sock", path], stdout: new StringWriter(), stderr: stderr, serviceFactory: _ => fake), TestContext.Current.CancellationToken);

            Assert.Equal(2, code);
            Assert.Equal($"actorvmm: {path} already exists (remove it if no server uses it)", stderr.ToString().Trim());
            Assert.Equal("keep", await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
            Assert.False(fake.Disposed);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Serve_without_a_service_should_say_so_and_exit_1()
    {
        var stderr = new StringWriter();

        var code = await Task.Run(() => CliApp.Run(["serve", "--api-sock", TempSocket()], stdout: new StringWriter(), stderr: stderr), TestContext.Current.CancellationToken);

        Assert.Equal(1, code);
        Assert.Equal("actorvmm: this build has no VM service", stderr.ToString().Trim());
    }

    [Fact]
    public async Task Serve_should_serve_until_stopped_then_dispose_the_service_and_remove_the_socket()
    {
        var path = TempSocket();
        var fake = new FakeVmService();
        using var stop = new CancellationTokenSource();
        var listening = new TaskCompletionSource<ApiServer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new Serilog.LoggerConfiguration().CreateLogger();

        var serve = ServeCommand.RunAsync(path, new ServeDefaults(SettingsLoader.Reference, string.Empty), _ => fake, log, new StringWriter(), stop.Token, server => listening.SetResult(server));
        await listening.Task;
        using (var client = ApiTestServer.NewClient(path))
        {
            using var response = await client.PutAsync("vms/a", new StringContent("{}"), TestContext.Current.CancellationToken);
            Assert.Equal(201, (int)response.StatusCode);
        }

        stop.Cancel();
        var code = await serve;

        Assert.Equal(0, code);
        Assert.True(fake.Disposed);
        Assert.False(ApiServer.PathExists(path));
    }
}
