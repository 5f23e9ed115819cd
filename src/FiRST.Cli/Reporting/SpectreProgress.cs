using FiRST.Evaluation;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace FiRST.Cli.Reporting;

/// <summary>
/// Progress as Spectre.Console bars, one per stage (a task's calibration, one lambda's training): the step,
/// the loss where there is one, and the time left. Findings print above the bars; a step's summary line does
/// not, since the bar shows the same.
/// </summary>
internal sealed class SpectreProgress(IAnsiConsole console) : ProgressReporter
{
    /// <inheritdoc />
    public override T Run<T>(Func<Action<PassProgress>, T> work) =>
        console.Progress()
            .AutoClear(false) // the finished bars stay: the terminal keeps what ran and how long it took
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                     new StepColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var bars = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                return work(p => Show(context, bars, p));
            });

    private void Show(ProgressContext context, Dictionary<string, ProgressTask> bars, PassProgress p)
    {
        if (p.Stage.Length > 0)
        {
            double total = Math.Max(1, p.Total);
            if (!bars.TryGetValue(p.Stage, out var bar))
                bars[p.Stage] = bar = context.AddTask(Markup.Escape(p.Stage), maxValue: total);
            bar.MaxValue = total;
            bar.Value = Math.Min(p.Done, total);
            if (p.Loss is { } loss) bar.Description = Markup.Escape($"{p.Stage}  loss {loss:F4}");
        }
        if (p.Finding && p.Line is { } line) console.WriteLine(line);
    }

    /// <summary>"done/total" of a bar, the unit being the stage's own (steps, prompts, settings).</summary>
    private sealed class StepColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text($"{task.Value:0}/{task.MaxValue:0}", new Style(Color.Grey));
    }
}
