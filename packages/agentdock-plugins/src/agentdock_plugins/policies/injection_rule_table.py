"""The table of tier 1's English and language-free rules: their regexes, weights and triggers.

Data, not logic, and kept whole: every rule of the prompt-injection scorer
(:mod:`~agentdock_plugins.policies.injection_rules`, which compiles this table once at import
and says what each rule catches and why it weighs what it does) is one entry here, with the
regex fragments and trigger words the entries share written once above them. Splitting the
table would scatter rules that are read, tuned and measured together
(``benchmarks/injection_eval.py``). The multilingual families are built from
:mod:`~agentdock_plugins.policies.injection_phrases` instead.
"""

from __future__ import annotations

import re

__all__ = ["RULE_SOURCES", "SQUEEZED", "Triggers"]

_VERB = r"(?:ignore|disregard|forget|override|bypass|skip|neglect|discard|dismiss|abandon)"
_THING = (
    r"(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|"
    r"constraints|context|messages?|programming|policies|commands|orders|restrictions|"
    r"training|limitations|safeguards)"
)
_WHICH = (
    r"(?:previous|prior|above|earlier|preceding|initial|original|system|developer|safety|"
    r"existing|former|old|foregoing|given|default)"
)
# Possessive separators: a run of apostrophes splits one way only (no polynomial backtracking).
_W = r"(?:[\s,;:'\"-]++[\w']+){0,3}?[\s,;:'\"-]++"
#: A document or the program that edits it: "show hidden text in Word" asks about
#: formatting, not the model's prompt ("the hidden instructions in my Word file" too).
_DOCUMENT = (
    r"(?:(?:ms|microsoft|google|libre\s*office|open\s*office|the|a|an|my|this|that|our|"
    r"their|his|her)\s+){0,2}(?:word|excel|powerpoint|outlook|onenote|docs|pages|writer|"
    r"documents?|docx?|files?|spreadsheets?|pdfs?|templates?|forms?|sheets?|slides?|"
    r"presentations?|workbooks?)\b"
)
_HIDDEN_PROMPT = (
    r"(?:system\s+(?:prompt|message|instructions?)|initial\s+(?:prompt|instructions?)|"
    r"hidden\s+(?:prompt|instructions?|rules)\b(?!\s+(?:in|on|inside|within|from|of)\s+"
    rf"{_DOCUMENT})|original\s+(?:prompt|instructions?)|"
    r"developer\s+(?:message|prompt|instructions?)|secret\s+(?:prompt|instructions?)|"
    r"pre-?prompt|internal\s+instructions)\b"
)
_SHOW = (
    r"(?:reveal|print|show|repeat|output|leak|dump|display|tell\s+me|give\s+me|write\s+out|"
    r"recite|share|copy|paste|spell\s+out|reproduce|disclose|expose|echo|type\s+out|list)"
)


Triggers = tuple[str, ...] | tuple[tuple[str, ...], ...]


def _w(words: str) -> tuple[str, ...]:
    """Whole-word triggers: looked up in the text's set of words, not searched for."""
    return tuple(words.split())


_VERB_WORDS = _w(
    "ignore ignores ignored ignoring disregard disregards disregarding forget forgets "
    "forgetting override overrides overriding bypass bypasses bypassing skip skipping neglect "
    "neglecting discard discarding dismiss dismissing abandon abandoning"
)
_WHICH_WORDS = _w(
    "previous prior above earlier preceding initial original system developer safety existing "
    "former old foregoing given default"
)
_THING_WORDS = _w(
    "instruction instructions prompt prompts rules direction directions directive directives "
    "guideline guidelines guardrail guardrails constraint constraints context message "
    "messages programming policy policies command commands orders restriction restrictions "
    "training limitation limitations safeguard safeguards"
)
_SHOW_WORDS = _w(
    "reveal print show repeat output leak dump display tell give write recite share copy paste "
    "spell reproduce disclose expose echo type list"
)

#: ``(name, weight, regex, triggers)`` of the English rules and the language-free ones: the
#: regex runs only on text holding a trigger, a substring every match contains (checked
#: with ``in``, far cheaper than a regex scan); where the triggers are groups, one of each
#: group (every match holds one of each). A rule may have several entries: it counts once.
#: Regexes start with a literal or a set of literals where they can, not ``\b``, so that
#: ``re`` can skip ahead to candidates.
RULE_SOURCES: tuple[tuple[str, float, str, Triggers], ...] = (
    (
        "override",
        1.0,
        rf"{_VERB}\b{_W}{_WHICH}\b(?:[\s,-]+[\w']+){{0,2}}?[\s,-]+{_THING}\b",
        (_VERB_WORDS, _WHICH_WORDS),
    ),
    (
        "override",
        1.0,
        r"(?:not|never|stop|n't)\s+(?:follow(?:ing)?|obey(?:ing)?|listen(?:ing)?\s+to|"
        r"adher(?:e|ing)\s+to|comply(?:ing)?\s+with)\s+(?:any\s+|all\s+)?(?:of\s+)?(?:the\s+|"
        rf"your\s+)?{_WHICH}\s+(?:[\w']+\s+){{0,2}}?{_THING}\b",
        (
            _w("follow following obey obeying listen listening adhere adhering comply complying"),
            _WHICH_WORDS,
            _THING_WORDS,
        ),
    ),
    (
        "override",
        1.0,
        rf"{_WHICH}\s+(?:[\w']+\s+){{0,2}}?{_THING}\s+(?:are|were|is|have\s+been|has\s+been)\s+"
        r"(?:now\s+|hereby\s+)?(?:void|null|obsolete|cancel+ed|invalid|revoked|overridden|"
        r"replaced|superseded|suspended|lifted|disabled|no\s+longer\s+(?:valid|in\s+effect|"
        r"apply|applicable))",
        (
            (
                *_w(
                    "void null obsolete canceled cancelled invalid revoked overridden replaced "
                    "superseded suspended lifted disabled"
                ),
                "no longer",
            ),
            _THING_WORDS,
        ),
    ),
    (
        "override_soft",
        0.6,
        rf"{_VERB}\s+(?:all|any|your|these|those|every|the)\b(?:\s+[\w']+){{0,2}}?\s+"
        r"(?:instructions?|rules|guidelines|restrictions|directives|programming|guardrails)\b",
        (
            _VERB_WORDS,
            _w(
                "instruction instructions rules guidelines restrictions directives "
                "programming guardrails"
            ),
        ),
    ),
    (
        "chat_template",
        1.0,
        r"<\s*\|\s*(?:im_start|im_end|im_sep|system|assistant|user|start_header_id|"
        r"end_header_id|eot_id|begin_of_text|end_of_text|endoftext|start|end|message|channel|"
        r"return|call|tool|system_prompt|begin[▁_ ]of[▁_ ]sentence|end[▁_ ]of[▁_ ]sentence)"
        r"\s*\|\s*>",
        (("<",), ("|",)),
    ),
    (
        "chat_template",
        1.0,
        r"\[\s*/?\s*(?:inst|system_prompt|available_tools|tool_results)\s*\]|"
        r"<<\s*/?\s*sys\s*>>|<\s*/?\s*(?:start|end)_of_turn\s*>",
        _w("inst system_prompt available_tools tool_results sys start_of_turn end_of_turn"),
    ),
    (
        "role_fence",
        1.0,
        r"(?:`{3,}+|~{3,}+)[ \t]*(?:system|developer|sys|instructions?|system[_-]prompt)\b",
        ("```", "~~~"),
    ),
    (
        "exfiltration",
        1.0,
        rf"{_SHOW}\b(?:\s+[\w'-]+){{0,4}}?\s+{_HIDDEN_PROMPT}",
        (
            _SHOW_WORDS,
            _w("prompt instruction instructions preprompt message rules"),
        ),
    ),
    (
        "exfiltration",
        1.0,
        rf"{_SHOW}\b(?:\s+me)?(?:\s+(?:all|of))*\s+your\s+hidden\s+(?:prompt|instructions?|rules)\b",
        (_w("your"), _w("hidden"), _SHOW_WORDS),
    ),
    (
        "exfiltration",
        1.0,
        r"(?:repeat|print|output|copy|reproduce|write|recite|echo|type|paste)\s+(?:back\s+)?"
        r"(?:out\s+)?(?:all\s+|everything\s+)?(?:of\s+)?(?:the\s+)?(?:words|text|messages?|"
        r"content|everything|lines|sentences|instructions|prompt)\s+(?:[\w']+\s+){0,2}?"
        r"(?:above|before\s+(?:this|that|the)|prior\s+to|preceding|earlier|written\s+above)",
        (
            _w("above before prior preceding earlier"),
            _w("repeat print output copy reproduce write recite echo type paste"),
            _w(
                "words text message messages content everything lines sentences instructions prompt"
            ),
        ),
    ),
    (
        "exfiltration",
        1.0,
        r"(?:what(?:'s|\s+is|\s+are|\s+was|\s+were)|which\s+are)\s+(?:written\s+in\s+|in\s+)?"
        r"your\s+(?:system\s+prompt|initial|original|hidden|secret|pre-?prompt|system\s+message)",
        (
            _w("your"),
            _w("system initial original hidden secret prompt preprompt"),
            _w("what whats which"),
        ),
    ),
    (
        "exfiltration",
        1.0,
        r"output\s+(?:your\s+)?initiali[sz]ation\s+above",
        _w("initialization initialisation"),
    ),
    (
        "exfiltration",
        1.0,
        r"(?:begin|start)\s+(?:your\s+)?(?:response|reply|answer|output)\s+with\s+"
        r"[\"'“‘`]?you\s+are\b",
        (("you are",), _w("begin start")),
    ),
    (
        "exfiltration",
        1.0,
        r"everything\s+(?:above|before)\s+(?:this|the)\s+(?:line|point|message)",
        (_w("everything"), _w("above before")),
    ),
    (
        "exfiltration",
        1.0,
        r"(?:your|the)\s+(?:very\s+)?first\s+(?:initial\s+)?(?:prompt|instructions)\b",
        (_w("first"), _w("prompt instructions")),
    ),
    (
        "exfiltration_soft",
        0.6,
        rf"{_SHOW}\b(?:\s+me)?\s+(?:all\s+)?(?:of\s+)?your\s+(?:instructions|rules|guidelines|"
        r"configuration|directives|prompt)\b",
        (
            _w("your"),
            _w("instructions rules guidelines configuration directives prompt"),
            _SHOW_WORDS,
        ),
    ),
    ("jailbreak", 1.0, r"do\s+anything\s+now\b", _w("anything")),
    ("jailbreak", 1.0, r"developer\s+mode\s+(?:enabled|on|activated|output)\b", _w("developer")),
    (
        "jailbreak",
        1.0,
        r"\b(?:you\s+are\s+now|you're\s+now|act\s+as|pretend\s+(?:to\s+be|you\s+are)|roleplay\s+as|"
        r"role-play\s+as|you\s+will\s+be|become)\b[^.\n]{0,40}?\b(?:dan|jailbroken|unrestricted|"
        r"unfiltered|uncensored|unbound|unlimited|amoral|evil|without\s+(?:any\s+)?"
        r"(?:restrictions|filters|rules|limits|limitations|guidelines|ethics|morals))\b",
        (
            _w(
                "dan jailbroken unrestricted unfiltered uncensored unbound unlimited amoral evil "
                "without"
            ),
            _w("now act pretend roleplay role become will"),
        ),
    ),
    (
        "jailbreak",
        1.0,
        r"(?:no\s+longer|not|never|aren't|isn't)\s+(?:be\s+)?(?:bound|restricted|limited|"
        r"constrained|censored|governed)\s+by\s+(?:any\s+|the\s+|your\s+|its\s+)?(?:[\w'-]+\s+)"
        r"{0,2}?(?:rules|polic(?:y|ies)|guidelines|restrictions|filters|programming|limitations|"
        r"ethics|morals|principles|safeguards)",
        (
            _w("bound restricted limited constrained censored governed"),
            _w(
                "rules policy policies guidelines restrictions filters programming limitations "
                "ethics morals principles safeguards"
            ),
        ),
    ),
    (
        "jailbreak",
        1.0,
        r"(?:free|freed|liberated|released|broken\s+free|escaped)\s+(?:from|of)\s+(?:the\s+|all\s+"
        r"|any\s+|your\s+|its\s+)?(?:typical\s+|usual\s+)?(?:confines|restrictions|limitations|"
        r"rules|shackles|constraints|censorship|filters|guidelines|chains|programming)",
        (
            _w("free freed liberated released broken escaped"),
            _w(
                "confines restrictions limitations rules shackles constraints censorship filters "
                "guidelines chains programming"
            ),
        ),
    ),
    (
        "jailbreak",
        1.0,
        r"(?:ignore|ignoring|bypass|bypassing|violate|violating|break|breaking|disregard|override|"
        r"circumvent|against|not\s+(?:follow|adhere\s+to|comply\s+with))\s+(?:all\s+|any\s+|the\s+)?"
        r"(?:of\s+)?(?:openai|anthropic|google|meta|microsoft|content|usage|safety|ethical|moral)"
        r"(?:'s)?\s+(?:content\s+)?(?:polic(?:y|ies)|guidelines|rules|restrictions|filters|"
        r"principles|standards)",
        (
            _w("policy policies guidelines rules restrictions filters principles standards"),
            _w("openai anthropic google meta microsoft content usage safety ethical moral"),
        ),
    ),
    (
        "jailbreak_persona",
        0.5,
        r"\b(?:unfiltered|uncensored|unrestricted|amoral|jailbroken|jailbreak|no\s+(?:ethical|"
        r"moral)\s+(?:guidelines|boundaries|restrictions|limits|standards))\b",
        _w("unfiltered uncensored unrestricted amoral jailbroken jailbreak ethical moral"),
    ),
    (
        "role_play",
        0.5,
        r"(?:stay|remain|staying)\s+in\s+character|break(?:ing)?\s+character|(?:never|don't|"
        r"do\s+not|will\s+not|won't|cannot|can't)\s+(?:ever\s+)?refuse",
        _w("character refuse"),
    ),
    # The role-play entries below are gated by their rarer words (a refusal's, a role's):
    # the verbs they start with ("never", "do", "will") are in most prose.
    (
        "role_play",
        0.5,
        r"(?:never|don't|do\s+not|won't|will\s+not)\s+(?:ever\s+)?(?:step|break|come|go)\s+out\s+of"
        r"\s+(?:the\s+|your\s+|this\s+)?(?:role|character|persona|mode|scenario)",
        (_w("role character persona mode scenario"), _w("out")),
    ),
    (
        "role_play",
        0.5,
        r"(?:remain|stay)\s+in\s+(?:this|that|the|your)\s+(?:scenario|persona|mode|role)\b",
        (_w("scenario persona mode role"), _w("remain stay")),
    ),
    (
        "role_play",
        0.5,
        r"(?:never|doesn't|does\s+not|don't|do\s+not|won't|will\s+not)\s+(?:says?|apologi[sz]es?|"
        r"mentions?|includes?|gives?|adds?)\s+(?:that\s+)?(?:it\s+cannot|it\s+can't|i\s+cannot|"
        r"i\s+can't|sorry|i'm\s+sorry|i\s+apologi[sz]e|(?:any\s+)?(?:warnings?|disclaimers?|"
        r"polic(?:y|ies)))",
        (
            _w(
                "cannot can't sorry apologize apologise warning warnings disclaimer disclaimers "
                "policy policies"
            ),
            _w(
                "say says apologise apologises apologize apologizes mention mentions include "
                "includes give gives add adds"
            ),
        ),
    ),
    ("role_play", 0.5, r"(?:lose|loses|deducted)\s+\d+\s+tokens\b", (_w("tokens"),)),
    ("role_play", 0.5, r"\bwith\s+no\s+(?:warnings|disclaimers)\b", _w("warnings disclaimers")),
    (
        "role_play",
        0.5,
        r"(?:answers?|responds?\s+to|complies\s+with|must\s+answer)\s+(?:any|every|all)\s+"
        r"(?:requests?|questions?)",
        (
            _w("request requests question questions"),
            _w("answer answers respond responds complies"),
            _w("any every all"),
        ),
    ),
    (
        "jailbreak_persona",
        0.5,
        r"\b(?:no\s+|without\s+(?:any\s+)?)(?:filters|content\s+rules|restrictions\s+of\s+any\s+"
        r"kind)\b",
        (_w("filters content restrictions"), _w("no without")),
    ),
    (
        "jailbreak_persona",
        0.5,
        r"(?:removed|disabled|turned\s+off|switched\s+off)\s+(?:the\s+|its\s+|your\s+|all\s+)?"
        r"(?:ethics|ethical|safety|moral|content)\s+(?:module|filters?|guidelines|rules|"
        r"restrictions|layer)",
        (_w("removed disabled off"), _w("ethics ethical safety moral content")),
    ),
    (
        "jailbreak_persona",
        0.5,
        r"(?:released|freed)\s+from\s+all\s+restrictions|unlocked\s+(?:its|your|his|her)\s+full"
        r"\s+potential",
        _w("released freed unlocked"),
    ),
    (
        "role_line",
        0.6,
        r"(?m:^)[ \t>*_-]*(?:system|assistant|developer)[ \t]*:",
        _w("system assistant developer"),
    ),
    (
        "role_header",
        0.6,
        r"(?m:^)[ \t]*#{1,6}[ \t]*(?:system|instructions?|assistant|developer)\b",
        ("#",),
    ),
    (
        "tag_switch",
        1.0,
        r"</(?:user|human|input|query|document)>\s*<(?:system|assistant|developer|instructions?)>",
        ("</",),
    ),
    ("role_tag", 0.6, r"</?(?:system|assistant|developer|user|instructions?)>", ("<",)),
    (
        "delimiter",
        0.5,
        r"end\s+of\s+(?:the\s+)?(?:user\s+)?(?:input|prompt|context|conversation)\b",
        _w("end"),
    ),
    ("delimiter", 0.5, r"begin\s+(?:new\s+)?(?:system|instructions|prompt)\b", _w("begin")),
    # A fence of three or more ``-``, ``=``, ``*`` or ``#`` (or three quotes or backticks)
    # before a role: one entry per character, each starting with its literal (``re`` skips
    # ahead to it) and matched from the start of a run only (the look-behind), never given
    # back: linear time on any run.
    *(
        (
            "delimiter",
            0.5,
            rf"{re.escape(c * 3)}(?<!{re.escape(c * 4)}){re.escape(c)}*+"
            r"\s*(?:system|assistant|new\s+instructions)\b",
            (c * 3,),
        )
        for c in "-=*#"
    ),
    *(
        ("delimiter", 0.5, rf"{q}\s*(?:system|assistant|new\s+instructions)\b", (q,))
        for q in ('"""', "```")
    ),
    (
        "escaped_role",
        0.6,
        r"\\[nr](?:\\[nr])*\s*(?:system|assistant|human|user)\s*:",
        ("\\",),
    ),
    (
        "new_instructions",
        0.5,
        r"(?:new|updated|real|actual|important)\s+(?:system\s+)?instructions?\s*:",
        _w("instruction instructions"),
    ),
    ("new_instructions", 0.5, r"from\s+now\s+on\b", _w("now")),
    (
        "new_instructions",
        0.5,
        r"(?:your|the)\s+(?:new|real|actual|only|true)\s+(?:task|goal|objective|mission|purpose|"
        r"job|role)\s+(?:is|will\s+be|now\s+is)\b",
        (
            _w("task goal objective mission purpose job role"),
            _w("new real actual only true"),
        ),
    ),
)

#: Phrases looked for inside one long word: text whose letters were spaced apart with
#: single spaces loses its word boundaries when the spacing is taken out.
SQUEEZED = (
    (
        "override",
        re.compile(
            r"(?:ignor|disregard|forget|bypass|overrid|skip)[a-z]{0,12}?(?:previous|prior|"
            r"above|earlier|preceding|initial|original|system|all|your)[a-z]{0,12}?"
            r"(?:instruction|prompt|rule|direction|guideline|directive)"
        ),
    ),
    (
        "exfiltration",
        re.compile(
            r"(?:reveal|print|show|repeat|output|display|tellme|giveme|leak|dump)[a-z]{0,12}?"
            r"(?:systemprompt|initialprompt|hiddeninstruction|originalinstruction|"
            r"systemmessage|initialinstruction)"
        ),
    ),
    ("jailbreak", re.compile(r"doanythingnow|developermode(?:enabled|on)")),
)
