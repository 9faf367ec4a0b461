using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ActorVmm.Vmm.Tests.Tracing;

/// <summary>What headless Chromium made of a page: the DOM after scripts ran, and the console/script errors it logged.</summary>
public sealed record RenderedPage(string Dom, IReadOnlyList<string> ScriptErrors);

/// <summary>
/// Loads a local HTML file in Debian's <c>chromium</c> (headless, no sandbox: tests may run as root) and returns
/// the DOM after load plus every script error: console messages in Chromium's log, and errors caught by a
/// <c>window.onerror</c> trap that <see cref="Render"/> puts first in the page and that writes them into the DOM.
/// </summary>
public static partial class HeadlessChromium
{
    /// <summary>The attribute on &lt;html&gt; the trap writes uncaught errors into.</summary>
    public const string ErrorAttribute = "data-script-errors";

    private const string Trap =
        "<script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message||e.type));"
        + "document.documentElement.setAttribute('" + ErrorAttribute + "',window.__errors.join(' | '));},true);</script>";

    /// <summary>The chromium executable, or null when it is not installed.</summary>
    public static string? Executable()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin"))
        {
            foreach (var name in new[] { "chromium", "chromium-browser" })
            {
                var path = Path.Combine(dir, name);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Renders <paramref name="html"/> (the page's text) with the error trap inserted before its first element and
    /// <paramref name="afterLoad"/> (script text, may be empty) run after the page's own scripts.
    /// </summary>
    public static RenderedPage Render(string html, string afterLoad = "")
    {
        var chromium = Executable();
        Assert.True(chromium is not null, "chromium is not installed: `apt-get install chromium` (tools/setup.sh installs it)");
        var dir = Directory.CreateTempSubdirectory("actorvmm-chromium-");
        try
        {
            var page = Path.Combine(dir.FullName, "page.html");
            var head = html.IndexOf("<head>", StringComparison.OrdinalIgnoreCase);
            var instrumented = head >= 0 ? html.Insert(head + "<head>".Length, Trap) : Trap + html;
            var end = instrumented.LastIndexOf("</body>", StringComparison.OrdinalIgnoreCase);
            var tail = afterLoad.Length == 0 ? string.Empty : $"<script>{afterLoad}</script>";
            instrumented = end >= 0 ? instrumented.Insert(end, tail) : instrumented + tail;
            File.WriteAllText(page, instrumented);

            var start = new ProcessStartInfo(chromium!)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                $"--user-data-dir={Path.Combine(dir.FullName, "profile")}", "--enable-logging=stderr", "--v=0",
                "--virtual-time-budget=2000", "--dump-dom", new Uri(page).AbsoluteUri,
            })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("chromium did not finish rendering the page within 2 minutes");
            }

            var dom = stdout.GetAwaiter().GetResult();
            var errors = ConsoleLine().Matches(stderr.GetAwaiter().GetResult()).Select(m => m.Value.Trim()).ToList();
            var trapped = TrappedErrors().Match(dom);
            if (trapped.Success)
            {
                errors.Add("window.onerror: " + System.Net.WebUtility.HtmlDecode(trapped.Groups[1].Value));
            }

            Assert.True(dom.Contains("</html>", StringComparison.OrdinalIgnoreCase), $"chromium printed no DOM (exit {process.ExitCode}): {stderr.GetAwaiter().GetResult()}");
            return new RenderedPage(dom, errors);
        }
        finally
        {
            try
            {
                dir.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Chromium may still hold its profile for a moment; the temp dir is cleaned up later.
            }
        }
    }

    [GeneratedRegex(@"^.*(?:CONSOLE|Uncaught|SyntaxError|TypeError|ReferenceError).*$", RegexOptions.Multiline)]
    private static partial Regex ConsoleLine();

    [GeneratedRegex(ErrorAttribute + "=\"([^\"]*)\"")]
    private static partial Regex TrappedErrors();
}
