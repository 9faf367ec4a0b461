using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ActorVmm.Host.Cli;

/// <summary>
/// The API client: <c>actorvmm vm create|start|pause|resume|snapshot|stop|kill|rm|ls|show|stats|console</c>
/// (<c>actorvmm snapshot</c> is <c>vm snapshot</c>), <c>actorvmm fault add|ls|rm</c> and
/// <c>actorvmm device ls|crash</c>, talking to <c>actorvmm serve</c> over
/// <c>--api-sock</c>. Tables by default, the server's JSON with <c>--json</c>. A refusal (4xx) prints the server's
/// line and exits 2; an unreachable server or a 5xx exits 1.
/// </summary>
internal sealed class ClientCommands
{
    private readonly TextWriter _output;
    private readonly Func<Stream>? _rawOutput;
    private readonly TextWriter _error;
    private readonly string _defaultSocket;
    private readonly Action<int> _setExitCode;

    /// <param name="output">Where tables and JSON go.</param>
    /// <param name="rawOutput">Where console bytes go as they are (the process's stdout); null: decoded into <paramref name="output"/>.</param>
    /// <param name="error">Where one-line errors go.</param>
    /// <param name="defaultSocket">The <c>--api-sock</c> default.</param>
    /// <param name="setExitCode">Receives the exit code.</param>
    public ClientCommands(TextWriter output, Func<Stream>? rawOutput, TextWriter error, string defaultSocket, Action<int> setExitCode)
    {
        _output = output;
        _rawOutput = rawOutput;
        _error = error;
        _defaultSocket = defaultSocket;
        _setExitCode = setExitCode;
    }

    public IEnumerable<Command> Create()
    {
        yield return VmCommand();
        yield return FaultCommand();
        yield return DeviceCommand();

        var snapshot = new Command("snapshot", "Write a snapshot of a paused VM into DIR (the same as vm snapshot).");
        var (socket, json) = AddCommonOptions(snapshot);
        AddSnapshotArgumentsTo(snapshot, socket, json);
        yield return snapshot;
    }

    private Command VmCommand()
    {
        var vm = new Command("vm", "Manage the VMs of an actorvmm serve process.");
        var (socket, json) = AddCommonOptions(vm);

        var createId = IdArgument();
        var options = new RunOptions();
        var create = new Command("create", "Create a VM (built now, started by vm start); takes run's VM options.");
        create.Arguments.Add(createId);
        options.AddVmOptionsTo(create);
        create.SetAction(r => Execute(r, socket, json, async (client, ct) =>
        {
            var body = VmCreateBody.Build(options.ConfigFile(r), options.ToOverrides(r));
            return await SendAsync(client, HttpMethod.Put, VmPath(r.GetValue(createId)!), ApiClient.Json(body), r.GetValue(json), PrintObject, ct);
        }));
        vm.Subcommands.Add(create);

        foreach (var (name, description) in new[] { ("start", "Start a created VM's vCPUs."), ("pause", "Pause a running VM."), ("resume", "Resume a paused VM."), ("kill", "Stop a VM now, without the guest.") })
        {
            var id = IdArgument();
            var command = new Command(name, description);
            command.Arguments.Add(id);
            command.SetAction(r => Execute(r, socket, json, (client, ct) =>
                SendAsync(client, HttpMethod.Post, VmPath(r.GetValue(id)!) + "/" + name, null, r.GetValue(json), PrintObject, ct)));
            vm.Subcommands.Add(command);
        }

        var snapshot = new Command("snapshot", "Write a snapshot of a paused VM into DIR, for run --restore / vm create --restore (also: actorvmm snapshot).");
        AddSnapshotArgumentsTo(snapshot, socket, json);
        vm.Subcommands.Add(snapshot);

        var stopId = IdArgument();
        var timeout = new Option<double?>("--timeout") { Description = "Seconds the guest has to power off before the VM is stopped by force", HelpName = "S" };
        var stop = new Command("stop", "Stop a VM gracefully (ACPI power button, else Ctrl-Alt-Del), by force after --timeout.");
        stop.Arguments.Add(stopId);
        stop.Options.Add(timeout);
        stop.SetAction(r => Execute(r, socket, json, (client, ct) =>
        {
            var query = r.GetValue(timeout) is { } seconds ? "?timeout=" + seconds.ToString(CultureInfo.InvariantCulture) : string.Empty;
            return SendAsync(client, HttpMethod.Post, VmPath(r.GetValue(stopId)!) + "/stop" + query, null, r.GetValue(json), PrintObject, ct);
        }));
        vm.Subcommands.Add(stop);

        var rmId = IdArgument();
        var rm = new Command("rm", "Remove a VM (a running one is killed first).");
        rm.Arguments.Add(rmId);
        rm.SetAction(r => Execute(r, socket, json, (client, ct) =>
            SendAsync(client, HttpMethod.Delete, VmPath(r.GetValue(rmId)!), null, r.GetValue(json), PrintNothing, ct)));
        vm.Subcommands.Add(rm);

        var ls = new Command("ls", "List the VMs.");
        ls.SetAction(r => Execute(r, socket, json, (client, ct) =>
            SendAsync(client, HttpMethod.Get, "vms", null, r.GetValue(json), PrintArray, ct)));
        vm.Subcommands.Add(ls);

        var showId = IdArgument();
        var show = new Command("show", "Show a VM's state and exit.");
        show.Arguments.Add(showId);
        show.SetAction(r => Execute(r, socket, json, (client, ct) =>
            SendAsync(client, HttpMethod.Get, VmPath(r.GetValue(showId)!), null, r.GetValue(json), PrintObject, ct)));
        vm.Subcommands.Add(show);

        var statsId = IdArgument();
        var stats = new Command("stats", "Show a VM's exit, device and interrupt statistics.");
        stats.Arguments.Add(statsId);
        stats.SetAction(r => Execute(r, socket, json, (client, ct) =>
            SendAsync(client, HttpMethod.Get, VmPath(r.GetValue(statsId)!) + "/stats", null, r.GetValue(json), PrintSections, ct)));
        vm.Subcommands.Add(stats);

        var consoleId = IdArgument();
        var tail = new Option<int?>("--tail") { Description = "Bytes of past output to print first", HelpName = "N" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing the guest's output until the VM stops (Ctrl-C detaches)" };
        var console = new Command("console", "Print a VM's console output.");
        console.Arguments.Add(consoleId);
        console.Options.Add(tail);
        console.Options.Add(follow);
        console.SetAction(r => Execute(r, socket, json, (client, ct) => ConsoleAsync(client, r.GetValue(consoleId)!, r.GetValue(tail), r.GetValue(follow), ct)));
        vm.Subcommands.Add(console);
        return vm;
    }

    /// <summary>
    /// <c>ID DIR</c> and the action of <c>vm snapshot</c> and <c>snapshot</c>: DIR is made absolute here (the server
    /// has its own working directory); the answer is one line unless <c>--json</c>.
    /// </summary>
    private void AddSnapshotArgumentsTo(Command command, Option<string> socket, Option<bool> json)
    {
        var id = IdArgument();
        var dir = new Argument<string>("DIR") { Description = "Directory for the snapshot: new, or empty" };
        command.Arguments.Add(id);
        command.Arguments.Add(dir);
        command.SetAction(r => Execute(r, socket, json, (client, ct) =>
        {
            var body = JsonSerializer.Serialize(Path.GetFullPath(r.GetValue(dir)!), CliJsonContext.Default.String);
            return SendAsync(client, HttpMethod.Post, VmPath(r.GetValue(id)!) + "/snapshot", ApiClient.Json("{\"dir\":" + body + "}"), r.GetValue(json), PrintSnapshot, ct);
        }));
    }

    private Command FaultCommand()
    {
        var fault = new Command("fault", "Inject device faults into a served VM.");
        var (socket, json) = AddCommonOptions(fault);

        var addId = IdArgument();
        var spec = new Argument<string>("SPEC") { Description = "Fault in the --fault grammar, e.g. disk0:crash,every=3" };
        var add = new Command("add", "Add a fault; it takes effect on the next access.");
        add.Arguments.Add(addId);
        add.Arguments.Add(spec);
        add.SetAction(r => Execute(r, socket, json, (client, ct) =>
        {
            var body = JsonSerializer.Serialize(r.GetValue(spec)!, CliJsonContext.Default.String);
            return SendAsync(client, HttpMethod.Post, VmPath(r.GetValue(addId)!) + "/faults", ApiClient.Json("{\"spec\":" + body + "}"), r.GetValue(json), PrintObject, ct);
        }));
        fault.Subcommands.Add(add);

        var lsId = IdArgument();
        var ls = new Command("ls", "List a VM's faults and how often each fired.");
        ls.Arguments.Add(lsId);
        ls.SetAction(r => Execute(r, socket, json, (client, ct) =>
            SendAsync(client, HttpMethod.Get, VmPath(r.GetValue(lsId)!) + "/faults", null, r.GetValue(json), PrintArray, ct)));
        fault.Subcommands.Add(ls);

        var rmId = IdArgument();
        var faultId = new Argument<string>("FID") { Description = "Fault id (from fault add or fault ls)" };
        var rm = new Command("rm", "Remove a fault.");
        rm.Arguments.Add(rmId);
        rm.Arguments.Add(faultId);
        rm.SetAction(r => Execute(r, socket, json, (client, ct) =>
            SendAsync(client, HttpMethod.Delete, VmPath(r.GetValue(rmId)!) + "/faults/" + Uri.EscapeDataString(r.GetValue(faultId)!), null, r.GetValue(json), PrintNothing, ct)));
        fault.Subcommands.Add(rm);
        return fault;
    }

    private Command DeviceCommand()
    {
        var device = new Command("device", "Look at and crash the devices of a served VM.");
        var (socket, json) = AddCommonOptions(device);

        var lsId = IdArgument();
        var ls = new Command("ls", "List a VM's devices with their state and supervision counters.");
        ls.Arguments.Add(lsId);
        ls.SetAction(r => Execute(r, socket, json, (client, ct) =>
            SendAsync(client, HttpMethod.Get, VmPath(r.GetValue(lsId)!) + "/devices", null, r.GetValue(json), PrintArray, ct)));
        device.Subcommands.Add(ls);

        var crashId = IdArgument();
        var name = new Argument<string>("NAME") { Description = "Device name (from device ls), e.g. disk0" };
        var crash = new Command("crash", "Make a device fail now; its supervisor decides what follows.");
        crash.Arguments.Add(crashId);
        crash.Arguments.Add(name);
        crash.SetAction(r => Execute(r, socket, json, (client, ct) =>
            SendAsync(client, HttpMethod.Post, VmPath(r.GetValue(crashId)!) + "/devices/" + Uri.EscapeDataString(r.GetValue(name)!) + "/crash", null, r.GetValue(json), PrintNothing, ct)));
        device.Subcommands.Add(crash);
        return device;
    }

    private (Option<string> Socket, Option<bool> Json) AddCommonOptions(Command command)
    {
        var socket = new Option<string>("--api-sock")
        {
            Description = "The API socket of actorvmm serve; default: $ACTORVMM_API_SOCK, else the shown one",
            HelpName = "PATH",
            Recursive = true,
            DefaultValueFactory = _ => _defaultSocket,
        };
        var json = new Option<bool>("--json") { Description = "Print the server's JSON instead of a table", Recursive = true };
        command.Options.Add(socket);
        command.Options.Add(json);
        return (socket, json);
    }

    private static Argument<string> IdArgument() => new("ID") { Description = "VM id" };

    private static string VmPath(string id) => "vms/" + Uri.EscapeDataString(id);

    private void Execute(ParseResult result, Option<string> socket, Option<bool> json, Func<ApiClient, CancellationToken, Task<int>> action)
    {
        var path = result.GetValue(socket)!;
        using var client = new ApiClient(path);
        try
        {
            _setExitCode(action(client, CancellationToken.None).GetAwaiter().GetResult());
        }
        catch (Actors.Settings.SettingsException e)
        {
            _error.WriteLine($"actorvmm: {Settings.SettingsLoader.FirstLine(e.Message)}");
            _setExitCode(CliApp.ExitBadInput);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException || e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            var why = e.InnerException is SocketException socketError ? socketError.Message : e.Message;
            _error.WriteLine($"actorvmm: cannot reach actorvmm serve at {path}: {Settings.SettingsLoader.FirstLine(why)}");
            _setExitCode(CliApp.ExitFailure);
        }
        catch (HttpRequestException e)
        {
            _error.WriteLine($"actorvmm: API request to {path} failed: {Settings.SettingsLoader.FirstLine(e.Message)}");
            _setExitCode(CliApp.ExitFailure);
        }
    }

    private async Task<int> SendAsync(ApiClient client, HttpMethod method, string path, HttpContent? content, bool json, Action<JsonElement> print, CancellationToken cancellation)
    {
        using var response = await client.SendAsync(method, path, content, stream: false, cancellation);
        var body = await response.Content.ReadAsStringAsync(cancellation);
        var status = (int)response.StatusCode;
        if (status >= 400)
        {
            return Refused(status, body);
        }

        if (json)
        {
            if (body.Length > 0)
            {
                _output.WriteLine(body);
            }

            return 0;
        }

        if (body.Length > 0)
        {
            using var document = JsonDocument.Parse(body);
            print(document.RootElement);
        }
        else
        {
            print(default);
        }

        return 0;
    }

    private int Refused(int status, string body)
    {
        _error.WriteLine($"actorvmm: {ApiClient.ErrorLine(status, body)}");
        return status < 500 ? CliApp.ExitBadInput : CliApp.ExitFailure;
    }

    private async Task<int> ConsoleAsync(ApiClient client, string id, int? tail, bool follow, CancellationToken cancellation)
    {
        var query = new List<string>();
        if (follow)
        {
            query.Add("follow=true");
        }

        if (tail is { } bytes)
        {
            query.Add("tail=" + bytes.ToString(CultureInfo.InvariantCulture));
        }

        var path = VmPath(id) + "/console" + (query.Count > 0 ? "?" + string.Join('&', query) : string.Empty);
        using var signals = follow ? new CliApp.StopSignals() : null;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, signals?.Token ?? CancellationToken.None);
        try
        {
            using var response = await client.SendAsync(HttpMethod.Get, path, null, stream: true, linked.Token);
            if ((int)response.StatusCode >= 400)
            {
                return Refused((int)response.StatusCode, await response.Content.ReadAsStringAsync(linked.Token));
            }

            await using var stream = await response.Content.ReadAsStreamAsync(linked.Token);
            var raw = _rawOutput?.Invoke();
            var decoder = Encoding.UTF8.GetDecoder();
            var buffer = new byte[16 * 1024];
            var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
            int read;
            while ((read = await stream.ReadAsync(buffer, linked.Token)) > 0)
            {
                if (raw is not null)
                {
                    await raw.WriteAsync(buffer.AsMemory(0, read), linked.Token);
                    await raw.FlushAsync(linked.Token);
                }
                else
                {
                    var count = decoder.GetChars(buffer, 0, read, chars, 0);
                    await _output.WriteAsync(chars.AsMemory(0, count), linked.Token);
                    await _output.FlushAsync(linked.Token);
                }
            }
        }
        catch (OperationCanceledException) when (signals?.Token.IsCancellationRequested == true)
        {
            // Ctrl-C detaches.
        }

        return 0;
    }

    private void PrintNothing(JsonElement element)
    {
    }

    private void PrintObject(JsonElement element) => TableWriter.Write(_output, [element]);

    /// <summary><c>vm1: snapshot in DIR (state 41 KiB, memory 256 MiB, 18 MiB written) in 312 ms</c>.</summary>
    private void PrintSnapshot(JsonElement element)
    {
        var took = element.GetProperty("took-ms").GetDouble();
        _output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{element.GetProperty("id").GetString()}: snapshot in {element.GetProperty("dir").GetString()} (state {Size(element.GetProperty("state-bytes").GetInt64())}, memory {Size(element.GetProperty("memory-bytes").GetInt64())}, {Size(element.GetProperty("memory-written-bytes").GetInt64())} written) in {took:0} ms"));
    }

    /// <summary>Bytes in the largest binary unit that keeps the number at 1 or more (<c>41 KiB</c>, <c>1.5 GiB</c>).</summary>
    internal static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        var value = (double)bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        var format = unit == 0 || value >= 10 || value == Math.Floor(value) ? "0" : "0.#";
        return value.ToString(format, CultureInfo.InvariantCulture) + " " + units[unit];
    }

    private void PrintArray(JsonElement element) => TableWriter.Write(_output, element.EnumerateArray().ToList());

    /// <summary>An object whose arrays are tables (stats): scalars first as <c>key: value</c>, then one titled table per array.</summary>
    private void PrintSections(JsonElement element)
    {
        foreach (var property in element.EnumerateObject().Where(p => p.Value.ValueKind != JsonValueKind.Array))
        {
            _output.WriteLine($"{property.Name}: {TableWriter.Cell(property.Value)}");
        }

        foreach (var property in element.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Array))
        {
            _output.WriteLine();
            _output.WriteLine(property.Name + ":");
            var rows = property.Value.EnumerateArray().ToList();
            if (rows.Count == 0)
            {
                _output.WriteLine("  (none)");
            }
            else
            {
                TableWriter.Write(_output, rows);
            }
        }
    }
}
