"""The words of the multilingual rule families, per language, as people write them.

Each language lists verbs that throw instructions away (*ignore*), what is thrown away
(*instructions*), words that say which (*previous*, *all*), verbs that ask for something to
be shown (*reveal*) and the secrets asked for (*system prompt*). The rules
(:mod:`~agentdock_plugins.policies.injection_rules`) put them through
:func:`~agentdock_plugins.policies.injection_normal.canonical` when they are compiled, so
the words are written here with their accents and in their own script. English lives in
the rules module itself (its patterns are finer). Languages: ``fr de es pt it ru zh ja ko``.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["LANGUAGES", "PHRASES", "Phrases"]


class Phrases(TypedDict):
    verbs: tuple[str, ...]
    objects: tuple[str, ...]
    which: tuple[str, ...]
    show: tuple[str, ...]
    secrets: tuple[str, ...]
    #: Whether the language is written without spaces (triggers are found as substrings).
    unspaced: bool


PHRASES: dict[str, Phrases] = {
    "fr": {
        "verbs": (
            "ignore", "ignorez", "ignorer", "ignores", "oublie", "oubliez", "oublier", "néglige",
            "négligez", "ne tiens pas compte", "ne tenez pas compte", "ne tiens plus compte",
            "fais abstraction", "faites abstraction", "abandonne", "abandonnez", "passe outre",
            "passez outre", "outrepasse", "outrepassez", "contourne", "contournez", "efface",
            "effacez", "écarte", "écartez", "annule", "annulez",
        ),
        "objects": (
            "instructions", "instruction", "consignes", "consigne", "règles", "directives",
            "indications", "ordres", "prompt", "invite", "restrictions", "garde-fous",
            "programmation", "commandes",
        ),
        "which": (
            "précédentes", "précédente", "précédents", "antérieures", "ci-dessus", "plus haut",
            "initiales", "d'origine", "originales", "système", "toutes", "tous", "tes", "vos",
            "reçues", "données", "actuelles", "anciennes",
        ),
        "show": (
            "révèle", "révélez", "révéler", "affiche", "affichez", "afficher", "montre",
            "montrez", "montrer", "imprime", "imprimez", "répète", "répétez", "répéter",
            "donne-moi", "donnez-moi", "dis-moi", "dites-moi", "écris", "écrivez", "divulgue",
            "divulguez", "quel est", "quelles sont", "partage", "partagez", "copie", "copiez",
            "récite", "récitez", "recopie", "recopiez",
        ),
        "secrets": (
            "prompt système", "prompt systeme", "invite système", "message système",
            "instructions système", "instructions initiales", "instructions cachées",
            "consignes initiales", "prompt initial", "instructions d'origine",
            "instructions secrètes", "consignes système", "instructions de départ",
        ),
        "unspaced": False,
    },
    "de": {
        "verbs": (
            "ignoriere", "ignorieren", "ignoriert", "ignorier", "vergiss", "vergessen",
            "vergesst", "missachte", "missachten", "überschreibe", "überschreib", "umgehe",
            "umgehen", "verwirf", "verwerfe", "verwerft", "übergehe", "übergeh", "lösche",
            "setze", "hebe", "befolge keine", "befolge nicht", "halte dich nicht",
        ),
        "objects": (
            "anweisungen", "anweisung", "instruktionen", "regeln", "vorgaben", "richtlinien",
            "befehle", "anordnungen", "system-prompt", "systemprompt", "einschränkungen",
            "beschränkungen", "prompt", "programmierung", "vorschriften",
        ),
        "which": (
            "vorherigen", "vorherige", "bisherigen", "vorangegangenen", "obigen", "alle",
            "allen", "ursprünglichen", "früheren", "deine", "ihre", "gegebenen", "oben",
            "vorigen", "alten", "system",
        ),
        "show": (
            "zeige", "zeig", "gib", "verrate", "verrat", "wiederhole", "wiederhol", "drucke",
            "druck", "schreibe", "schreib", "nenne", "nenn", "offenbare", "enthülle",
            "was ist dein", "was sind deine", "gib aus", "kopiere", "teile",
        ),
        "secrets": (
            "systemprompt", "system-prompt", "system prompt", "systemanweisungen",
            "systemnachricht", "ursprünglichen anweisungen", "versteckten anweisungen",
            "geheimen anweisungen", "initialen anweisungen", "anfänglichen anweisungen",
            "systemanweisung", "ersten anweisungen", "interne anweisungen",
        ),
        "unspaced": False,
    },
    "es": {
        "verbs": (
            "ignora", "ignore", "ignorar", "ignoren", "ignoras", "olvida", "olvide", "olvidar",
            "olviden", "haz caso omiso", "hagan caso omiso", "no hagas caso", "descarta",
            "descartar", "omite", "omitir", "desobedece", "pasa por alto", "anula", "anular",
            "salta", "sáltate", "elimina", "borra",
        ),
        "objects": (
            "instrucciones", "instrucción", "reglas", "directrices", "indicaciones", "órdenes",
            "normas", "prompt", "pautas", "restricciones", "programación", "comandos",
        ),
        "which": (
            "anteriores", "previas", "precedentes", "de arriba", "iniciales", "originales",
            "del sistema", "todas", "todos", "tus", "sus", "recibidas", "dadas", "antiguas",
        ),
        "show": (
            "revela", "revele", "revelar", "muestra", "muestre", "mostrar", "imprime",
            "imprimir", "repite", "repetir", "dime", "dame", "escribe", "divulga", "comparte",
            "cuál es", "cuáles son", "copia", "recita", "enséñame",
        ),
        "secrets": (
            "prompt del sistema", "prompt de sistema", "mensaje del sistema",
            "instrucciones del sistema", "instrucciones iniciales", "instrucciones ocultas",
            "instrucciones originales", "instrucciones secretas", "prompt inicial",
            "indicaciones del sistema", "instrucciones internas",
        ),
        "unspaced": False,
    },
    "pt": {
        "verbs": (
            "ignore", "ignora", "ignorar", "ignorem", "esqueça", "esquece", "esquecer",
            "desconsidere", "desconsidera", "desconsiderar", "descarte", "descarta",
            "não siga", "deixe de lado", "anule", "anular", "despreze", "pule", "apague",
        ),
        "objects": (
            "instruções", "instrução", "regras", "diretrizes", "orientações", "ordens",
            "comandos", "prompt", "restrições", "normas", "programação",
        ),
        "which": (
            "anteriores", "prévias", "acima", "iniciais", "originais", "do sistema", "todas",
            "todos", "suas", "tuas", "recebidas", "dadas", "antigas",
        ),
        "show": (
            "revele", "revela", "revelar", "mostre", "mostra", "mostrar", "imprima", "imprimir",
            "repita", "repetir", "me diga", "diga-me", "me dê", "escreva", "divulgue",
            "compartilhe", "qual é", "quais são", "copie", "recite",
        ),
        "secrets": (
            "prompt do sistema", "mensagem do sistema", "instruções do sistema",
            "instruções iniciais", "instruções ocultas", "instruções originais",
            "instruções secretas", "prompt inicial", "instruções internas",
        ),
        "unspaced": False,
    },
    "it": {
        "verbs": (
            "ignora", "ignorate", "ignorare", "ignori", "dimentica", "dimenticate",
            "dimenticare", "trascura", "tralascia", "non considerare", "non tenere conto",
            "scarta", "scartare", "lascia perdere", "annulla", "aggira", "salta", "cancella",
        ),
        "objects": (
            "istruzioni", "istruzione", "regole", "direttive", "indicazioni", "ordini",
            "comandi", "prompt", "restrizioni", "linee guida", "programmazione",
        ),
        "which": (
            "precedenti", "sopra", "iniziali", "originali", "di sistema", "tutte", "tutti",
            "tue", "sue", "ricevute", "date", "vecchie",
        ),
        "show": (
            "rivela", "rivelare", "mostra", "mostrami", "mostrare", "stampa", "stampare",
            "ripeti", "ripetere", "dimmi", "dammi", "scrivi", "divulga", "condividi",
            "qual è", "quali sono", "copia", "recita",
        ),
        "secrets": (
            "prompt di sistema", "messaggio di sistema", "istruzioni di sistema",
            "istruzioni iniziali", "istruzioni nascoste", "istruzioni originali",
            "istruzioni segrete", "prompt iniziale", "istruzioni interne",
        ),
        "unspaced": False,
    },
    "ru": {
        "verbs": (
            "игнорируй", "игнорируйте", "игнорировать", "проигнорируй", "проигнорируйте",
            "забудь", "забудьте", "забыть", "отбрось", "отбросьте", "не обращай",
            "не обращайте", "пренебреги", "отмени", "отмените", "обойди", "не следуй",
            "не выполняй", "сотри", "удали",
        ),
        "objects": (
            "инструкции", "инструкций", "инструкциям", "указания", "указаний", "правила",
            "правил", "команды", "директивы", "промпт", "ограничения", "установки",
            "настройки", "указаниям",
        ),
        "which": (
            "предыдущие", "предыдущих", "прежние", "прежних", "вышеуказанные", "все", "всех",
            "выше", "исходные", "первоначальные", "системные", "свои", "твои", "ваши",
            "данные", "старые",
        ),
        "show": (
            "покажи", "покажите", "раскрой", "раскройте", "выведи", "выведите", "напечатай",
            "повтори", "повторите", "скажи", "дай", "напиши", "какой у тебя", "каков твой",
            "какие у тебя", "поделись", "скопируй", "процитируй",
        ),
        "secrets": (
            "системный промпт", "системное сообщение", "системные инструкции",
            "системную инструкцию", "исходные инструкции", "скрытые инструкции",
            "первоначальные инструкции", "секретные инструкции", "начальный промпт",
            "системный запрос", "системные указания",
        ),
        "unspaced": False,
    },
    "zh": {
        "verbs": (
            "忽略", "忽视", "无视", "無視", "忽視", "忘记", "忘記", "忘掉", "不要理会", "不要理會",
            "别管", "抛弃", "丢弃", "放弃", "跳过", "绕过", "繞過", "覆盖", "不要遵守", "不再遵守",
            "停止遵循", "不用管", "废除", "取消",
        ),
        "objects": (
            "指令", "指示", "说明", "說明", "规则", "規則", "提示", "命令", "要求", "设定", "設定",
            "限制", "约束", "約束", "准则", "準則",
        ),
        "which": (
            "之前", "先前", "以前", "上面", "上述", "以上", "前面", "所有", "全部", "原来", "原來",
            "原始", "初始", "系统", "系統", "一切",
        ),
        "show": (
            "显示", "顯示", "告诉我", "告訴我", "输出", "輸出", "打印", "重复", "重複", "泄露",
            "洩露", "透露", "展示", "给我看", "說出", "说出", "复述", "複述", "写出", "寫出",
            "列出", "公开", "公開",
        ),
        "secrets": (
            "系统提示", "系統提示", "系统指令", "系統指令", "初始指令", "初始提示", "原始指令",
            "隐藏指令", "隱藏指令", "系统消息", "系統訊息", "系统设定", "系統設定", "提示词",
            "提示詞", "系统说明", "隐藏的指令", "隱藏的指令", "隐藏的指示", "隱藏的指示",
            "隐藏提示词", "隱藏提示詞",
        ),
        "unspaced": True,
    },
    "ja": {
        "verbs": (
            "無視", "忘れ", "従わない", "従うな", "破棄", "放棄", "取り消", "無効に", "捨て",
            "スキップ", "上書き",
        ),
        "objects": (
            "指示", "命令", "ルール", "規則", "指令", "プロンプト", "設定", "制約", "ガイドライン",
            "制限",
        ),
        "which": (
            "以前の", "前の", "これまでの", "上記の", "上の", "すべての", "全ての", "全部", "元の",
            "最初の", "初期", "システム", "今までの",
        ),
        "show": (
            "表示", "見せ", "教え", "出力", "繰り返", "印刷", "書き出", "開示", "明かし", "漏らし",
            "公開", "そのまま",
        ),
        "secrets": (
            "システムプロンプト", "初期プロンプト", "隠された指示", "元の指示", "初期の指示",
            "システムメッセージ", "システムの指示", "最初の指示", "秘密の指示",
        ),
        "unspaced": True,
    },
    "ko": {
        "verbs": (
            "무시", "잊어", "잊고", "따르지 마", "따르지 말고", "버려", "취소", "우회", "건너뛰",
            "덮어쓰",
        ),
        "objects": (
            "지시", "지침", "명령", "규칙", "프롬프트", "설정", "제한", "가이드라인", "규정",
        ),
        "which": ("이전", "앞의", "위의", "위", "모든", "전부", "원래", "기존", "초기", "시스템"),
        "show": ("보여", "알려", "출력", "반복", "공개", "말해", "인쇄", "밝혀", "누설", "적어"),
        "secrets": (
            "시스템 프롬프트", "시스템프롬프트", "초기 프롬프트", "숨겨진 지시", "원래 지시",
            "시스템 메시지", "시스템 지시", "초기 지시", "비밀 지시", "숨겨진 지침",
            "숨겨진 프롬프트", "숨겨진 명령",
        ),
        "unspaced": True,
    },
}  # fmt: skip

#: Every language the rules know: English and those above.
LANGUAGES: tuple[str, ...] = ("en", *PHRASES)
