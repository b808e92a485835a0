"""The experiment keys of the main screen: i (your own input), w (what if), x (the
spectrum), u (find the unit that does X).

Each asks the trainer (an Experiment or TraceInput command) and shows the answer on
an ExperimentScreen; nothing is computed here. A mixin of MainScreen, which owns the
trace, step, track and unit these read and set, and the bindings that call them.
"""

from __future__ import annotations

from rnn_tui.ui.widgets.gradients import decay

# The screens these open are imported when first opened, not before the first frame.

# What `i` asks for, per task kind: (what to type, an example).
INPUT_HELP = {
    "next_token": ("Type any text made of characters the model knows; each step predicts the next one.",
                   "To be, or not to be"),
    "text": ("Type a sequence of tokens the model knows.", ""),
    "classify": ("Type a sentence (words the model knows); the trace explains the model's own decision.",
                 "the movie was not good"),
    "tag": ("Type a sequence (for brackets: ( ) [ ] and letters); each step shows the model's answer.", "(()(a))"),
    "forecast": ("Type numbers separated by spaces; each step predicts the next.", "0 0.5 0.9 1 0.8 0.3 -0.2 -0.7"),
    "adding": ("Type numbers between 0 and 1, a * after the two to add; the answer is read at the end.",
               "0.3 0.9* 0.1 0.5 0.4* 0.7"),
}
RULE_FOR = {"brackets": "depth", "text": "after_space", "adding": "marked", "sentiment": "negation"}


class ExperimentKeys:
    """The actions behind i, w, x and u (MainScreen binds the keys)."""

    def action_type_input(self) -> None:
        from rnn_tui.ui.ask_screen import AskScreen

        run = self.view.run
        if run is None or run.inspect_only:
            self.notify("typed input needs a model the trainer holds" if run else "the model is still loading",
                        severity="warning")
            return
        about, example = INPUT_HELP.get(run.kind, INPUT_HELP["text"])
        if run.kind == "regress":
            about, example = INPUT_HELP["adding"]
        current = (self.trace.meta.get("input", "") if self.trace is not None else "") or example

        def typed(text: str | None) -> None:
            if text:
                self.step = 0
                self.view.type_input(text)
                self.update_status()

        self.app.push_screen(AskScreen("Your own input", about, current), typed)

    def action_what_if(self) -> None:
        from rnn_tui.ui.ask_screen import AskScreen

        if self.trace is None or self.view.run is None:
            self.notify("what if needs a trace on screen", severity="warning")
            return
        t, tr = self.step, self.trace
        if tr.tokens is not None and tr.vocab:
            now = tr.vocab[int(tr.tokens[t])]
            about = (f"Step {t + 1} reads {now!r}. Which token instead? The trainer runs the sequence again with it "
                     "and measures ‖h'_s − h_s‖ at every later step: how long the network remembers the change.")
            ask = AskScreen(f"What if, at step {t + 1}", about, "", placeholder=f"a token, e.g. {tr.vocab[0]!r}")
            params = lambda text: {"token": text}  # noqa: E731
        else:
            about = (f"Step {t + 1}: add how much to its input value (input 1)? Or type =V to set it to V. The "
                     "trainer measures ‖h'_s − h_s‖ at every later step: how long the network remembers the change.")
            ask = AskScreen(f"What if, at step {t + 1}", about, "+0.5")
            params = lambda text: ({"value": float(text[1:])} if text.startswith("=")  # noqa: E731
                                   else {"delta": float(text)})

        def answered(text: str | None) -> None:
            if not text:
                return
            try:
                asked = {"step": t, **params(text.strip())}
            except ValueError:
                self.notify(f"{text!r} is not a number; expected e.g. +0.5 or =1.2", severity="error")
                return
            self._experiment("horizon", f"step {t + 1}, {text.strip()}", **asked)

        self.app.push_screen(ask, answered)

    def action_spectrum(self) -> None:
        if self.view.run is None:
            self.notify("the model is still loading", severity="warning")
            return
        self._experiment("spectrum", "the eigenvalues and singular values of W_hh")

    def action_find_unit(self) -> None:
        from rnn_tui.core.rules import BUILTIN as BUILTIN_RULES
        from rnn_tui.ui.ask_screen import AskScreen

        run = self.view.run
        if run is None:
            self.notify("the model is still loading", severity="warning")
            return
        suggested = RULE_FOR.get(run.scenario, "position")
        about = ("Which rule should a unit follow? A built-in one: " + ", ".join(BUILTIN_RULES) +
                 ". Or an expression: count('(') - count(')'), is('a','e'), seen('not'), since('\\n'), "
                 "after(' '), inside('\"'), feature(0), sum(...), position, with + - *.")

        def chosen(rule: str | None) -> None:
            if rule:
                self._experiment("units", rule.strip(), rule=rule.strip())

        self.app.push_screen(AskScreen("Find the unit that does X", about, suggested), chosen)

    def _experiment(self, name: str, asking: str, **params) -> None:
        from rnn_tui.ui.experiment_screen import ExperimentScreen

        view = self.view
        view.ask(name, **params)
        fit = decay(self.trace, self.track) if self.trace is not None else None
        history = view.snap.history if view.snap else []
        screen = ExperimentScreen(name, asking, lambda: view.ask(name, **params), lambda: view.results.get(name, {}),
                                  decay=fit.factor if fit else None, history=history)

        def closed(choice: tuple | None) -> None:
            if choice and choice[0] == "unit" and self.trace is not None:
                _, layer, direction, unit = choice
                self.track = layer * self.trace.directions + direction
                self.unit = unit
                self.notify(f"unit {unit} of layer {layer + 1} selected: the text is tinted by it")

        self.app.push_screen(screen, closed)

    def show_experiment(self, name: str) -> None:
        """An answer arrived: onto the experiment screen that asked for it."""
        from rnn_tui.ui.experiment_screen import ExperimentScreen

        top = self.app.screen
        if isinstance(top, ExperimentScreen) and top.experiment == name:
            top.show(self.view.results.get(name, {}))
