"""The words of the multilingual rule families, per language, as people write them.

Each language lists verbs that throw instructions away (*ignore*), what is thrown away
(*instructions*), words that say which (*previous*, *all*), verbs that ask for something to
be shown (*reveal*) and the secrets asked for (*system prompt*); and, for the jailbreak
family, words that say *from now on*, the second person that lacks or is something (*you
have no*, *you are*), what it lacks or is (*restrictions*, *DAN*), the words that may not
come between those (*with*, *you can*) and those that may follow them (*and*, *AI*): any
other makes them about something else (*on returns*). The rules
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
    #: Words that say the change starts now (*from now on*).
    now: tuple[str, ...]
    #: The second person that lacks something (*you have no*, *there are for you no*).
    lack: tuple[str, ...]
    #: What the second person lacks (*restrictions*, *rules*, *filters*), with the negation
    #: where the language puts it on the noun.
    limits: tuple[str, ...]
    #: The second person that is something (*you are*, *you become*).
    are: tuple[str, ...]
    #: What it is then (*DAN*, *unrestricted*, *without rules*, *in developer mode*).
    free: tuple[str, ...]
    #: Words that may not come between the second person and its limits or freedom (*mit*
    #: in *du bist jetzt mit Dan*, *можешь* in *ты можешь играть без правил*).
    after: tuple[str, ...]
    #: What may come right after the limits or the freedom, besides the end of the text or
    #: of a clause (and a *now* word): *and*, *AI*, a copula. Anything else says what they
    #: apply to (*no restrictions on returns*, *keine Regeln für die Schlafenszeit*, *無制限
    #: プラン*): the sentence is then about something, not the assistant.
    then: tuple[str, ...]
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
        "now": (
            "à partir de maintenant", "dès maintenant", "maintenant", "désormais", "dorénavant",
            "à présent", "dès à présent", "à partir d'aujourd'hui",
        ),
        "lack": (
            "tu n'as", "tu n’as", "vous n'avez", "vous n’avez", "tu n'auras", "tu n’auras",
            "vous n'aurez", "vous n’aurez", "t'as", "t’as", "pour toi il n'y a",
            "tu n'es soumis à", "tu n’es soumis à", "tu n'es plus soumis à",
            "tu n’es plus soumis à", "tu n'es plus soumise à", "tu n’es plus soumise à",
            "vous n'êtes plus soumis à", "vous n’êtes plus soumis à", "tu n'es lié par",
            "tu n’es lié par", "tu n'es plus lié par", "tu n’es plus lié par",
            "tu n'es plus tenu par", "tu n’es plus tenu par",
        ),
        "limits": (
            "aucune restriction", "aucune limite", "aucune règle", "aucun filtre",
            "aucune censure", "aucune limitation", "aucune contrainte", "aucun garde-fou",
            "plus de restrictions", "plus de limites", "plus de règles", "plus de filtres",
            "pas de restrictions", "pas de limites", "pas de règles", "pas de filtres",
        ),
        "are": (
            "tu es", "vous êtes", "tu seras", "vous serez", "tu deviens", "vous devenez", "t'es",
            "t’es",
        ),
        "free": (
            "dan", "sans restriction", "sans restrictions", "sans limite", "sans limites",
            "sans filtre", "sans filtres", "sans censure", "sans aucune restriction",
            "sans aucune limite", "libre de toute restriction", "libéré de toutes",
            "libéré de tes", "affranchi de", "débridé", "débridée", "non censuré", "jailbreaké",
            "en mode développeur",
        ),
        "after": (
            "de", "d'", "d’", "du", "des", "sur", "pour", "concernant", "en", "au", "aux", "à",
            "quant", "dans", "avec", "chez", "peux", "pouvez", "pourras", "pourrez",
        ),
        "then": (
            "et", "ni", "mais", "car", "donc", "alors", "ia", "intelligence artificielle",
            "assistant", "assistante", "modèle", "chatbot", "bot", "tu", "vous",
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
        "now": (
            "ab jetzt", "ab sofort", "von nun an", "von jetzt an", "ab heute", "jetzt", "nun",
            "fortan", "künftig",
        ),
        "lack": (
            "du hast", "hast du", "ihr habt", "habt ihr", "für dich gibt es", "gibt es für dich",
            "für dich gelten", "gelten für dich", "du unterliegst", "unterliegst du",
        ),
        "limits": (
            "keine einschränkungen", "keinerlei einschränkungen", "keine beschränkungen",
            "keine grenzen", "keine regeln", "keine filter", "keine zensur", "keine limits",
            "keine richtlinien", "keine vorgaben", "keine limitierungen",
            "keine einschränkungen mehr", "keine beschränkungen mehr", "keine grenzen mehr",
            "keine regeln mehr", "keine filter mehr", "keine zensur mehr",
            "keinerlei beschränkungen", "keinerlei regeln", "keinerlei grenzen",
        ),
        "are": ("du bist", "bist du", "ihr seid", "seid ihr", "du wirst", "wirst du"),
        "free": (
            "dan", "uneingeschränkt", "unzensiert", "ungefiltert", "ohne einschränkungen",
            "ohne jede einschränkung", "ohne grenzen", "ohne regeln", "ohne filter",
            "ohne zensur", "frei von allen einschränkungen", "frei von jeglichen",
            "ohne jegliche einschränkungen", "ohne jegliche beschränkungen",
            "ohne jede beschränkung", "ohne beschränkungen", "ohne jegliche regeln",
            "ohne jegliche grenzen", "ohne jegliche filter", "ohne jegliche zensur",
            "ohne irgendwelche einschränkungen", "an keinerlei regeln gebunden",
            "an keine regeln gebunden", "nicht mehr eingeschränkt", "im entwicklermodus",
        ),
        "after": (
            "beim", "bei", "für", "auf", "im", "in", "hinsichtlich", "bezüglich", "zum", "zur",
            "an", "am", "von", "des", "der", "bis", "mit", "über", "gegenüber", "kannst",
            "könnt", "darfst", "dürft",
        ),
        "then": (
            "und", "oder", "aber", "denn", "also", "ki", "assistent", "modell", "chatbot",
            "bot", "du", "ihr",
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
            "cuál es", "cuáles son", "copia", "recita", "enséñame", "muéstrame", "muéstranos",
            "muéstreme", "enséñanos", "enséñeme", "dígame", "revélame", "revélanos",
            "revéleme", "repíteme", "escríbeme", "imprímeme", "cópiame", "compárteme",
            "recítame", "deme",
        ),
        "secrets": (
            "prompt del sistema", "prompt de sistema", "mensaje del sistema",
            "instrucciones del sistema", "instrucciones iniciales", "instrucciones ocultas",
            "instrucciones originales", "instrucciones secretas", "prompt inicial",
            "indicaciones del sistema", "instrucciones internas",
        ),
        "now": (
            "desde ahora", "a partir de ahora", "de ahora en adelante", "ahora",
            "desde este momento", "a partir de este momento", "en adelante", "ya",
        ),
        "lack": (
            "no tienes", "ya no tienes", "no tendrás", "usted no tiene", "no tenéis",
            "para ti no hay", "no hay para ti",
        ),
        "limits": (
            "restricciones", "ninguna restricción", "límites", "ningún límite", "reglas",
            "ninguna regla", "filtros", "ningún filtro", "censura", "limitaciones",
            "restricción alguna", "ninguna regla que seguir", "reglas que seguir",
            "ninguna norma que seguir", "normas que seguir", "ninguna restricción que respetar",
            "restricciones que respetar", "reglas que cumplir", "ninguna regla que cumplir",
        ),
        "are": ("eres", "serás", "estás", "usted es", "te conviertes en", "sois"),
        "free": (
            "dan", "sin restricciones", "sin ninguna restricción", "sin límites", "sin filtros",
            "sin censura", "sin reglas", "libre de toda restricción", "libre de restricciones",
            "ilimitado", "ilimitada", "sin limitaciones", "en modo desarrollador",
        ),
        "after": (
            "de", "del", "en", "para", "sobre", "con", "al", "a", "respecto", "por",
            "puedes", "puede", "podéis", "podrás",
        ),
        "then": (
            "y", "ni", "pero", "así", "ia", "inteligencia artificial", "asistente", "modelo",
            "chatbot", "bot", "de ningún tipo", "de ninguna clase", "en absoluto", "tú",
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
            "repita", "repetir", "me diga", "diga-me", "me dê", "dê-me", "me dá", "escreva",
            "divulgue", "me mostre", "me mostra", "me revele", "me conte", "conte-me",
            "compartilhe", "qual é", "quais são", "copie", "recite",
        ),
        "secrets": (
            "prompt do sistema", "mensagem do sistema", "instruções do sistema",
            "instruções iniciais", "instruções ocultas", "instruções originais",
            "instruções secretas", "prompt inicial", "instruções internas",
        ),
        "now": (
            "a partir de agora", "de agora em diante", "desde agora", "agora", "doravante",
            "daqui em diante", "a partir deste momento",
        ),
        "lack": (
            "você não tem", "voce não tem", "você já não tem", "não tens", "tu não tens",
            "vocês não têm", "você não terá", "para você não há", "não há para você",
            "você agora não tem", "voce agora não tem", "você agora já não tem",
            "tu agora não tens", "vocês agora não têm",
        ),
        "limits": (
            "restrições", "nenhuma restrição", "limites", "nenhum limite", "regras",
            "nenhuma regra", "filtros", "nenhum filtro", "censura", "limitações",
        ),
        "are": ("você é", "você está", "tu és", "tu estás", "você será", "você se torna"),
        "free": (
            "dan", "sem restrições", "sem nenhuma restrição", "sem limites", "sem filtros",
            "sem censura", "sem regras", "livre de restrições", "livre de todas",
            "ilimitado", "ilimitada", "sem limitações", "em modo desenvolvedor",
        ),
        "after": (
            "de", "do", "da", "dos", "das", "em", "no", "na", "para", "sobre", "com", "ao", "à",
            "por", "quanto", "pode", "podes", "poderá", "poderás",
        ),
        "then": (
            "e", "nem", "mas", "ia", "inteligência artificial", "assistente", "modelo",
            "chatbot", "bot", "de nenhum tipo", "de qualquer tipo", "você",
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
            "rivelami", "ripetimi", "scrivimi", "stampami", "copiami", "mostratemi",
            "ditemi", "rivelatemi", "fammi vedere",
            "qual è", "quali sono", "copia", "recita",
        ),
        "secrets": (
            "prompt di sistema", "messaggio di sistema", "istruzioni di sistema",
            "istruzioni iniziali", "istruzioni nascoste", "istruzioni originali",
            "istruzioni segrete", "prompt iniziale", "istruzioni interne",
        ),
        "now": (
            "da ora in poi", "d'ora in poi", "d’ora in poi", "da adesso", "da adesso in poi",
            "da questo momento", "ora", "adesso", "d'ora in avanti", "d’ora in avanti",
            "d'ora innanzi", "d’ora innanzi",
        ),
        "lack": (
            "non hai", "tu non hai", "non avrai", "lei non ha", "non avete", "per te non ci sono",
            "non ci sono per te",
        ),
        "limits": (
            "restrizioni", "nessuna restrizione", "alcuna restrizione", "limiti", "nessun limite",
            "alcun limite", "regole", "alcuna regola",
            "nessuna regola", "filtri", "nessun filtro", "censura", "limitazioni", "vincoli",
            "nessun vincolo",
        ),
        "are": ("sei", "tu sei", "sarai", "siete", "lei è", "diventi"),
        "free": (
            "dan", "senza restrizioni", "senza alcuna restrizione", "senza limiti", "senza filtri",
            "senza censura", "senza regole", "libero da ogni restrizione", "libero da",
            "libera da", "illimitato", "senza vincoli", "in modalità sviluppatore",
            "libero da ogni limite", "libera da ogni limite", "libero da ogni restrizione",
            "libera da ogni restrizione", "libero da ogni regola", "libera da ogni regola",
            "libero da ogni vincolo", "libera da ogni vincolo", "libero da qualsiasi limite",
            "libero da qualsiasi restrizione", "libero da qualsiasi regola", "libero da limiti",
            "libero da restrizioni", "libero da regole", "libero da vincoli",
            "libera da limiti", "libera da restrizioni", "libera da regole",
        ),
        "after": (
            "di", "del", "della", "dei", "delle", "su", "sul", "sulla", "sui", "per", "nel",
            "nella", "nei", "in", "al", "alla", "a", "riguardo", "con", "puoi", "può",
            "potete", "potrai",
        ),
        "then": (
            "e", "né", "ma", "ia", "intelligenza artificiale", "assistente", "modello",
            "chatbot", "bot", "di alcun tipo", "di nessun tipo", "tu",
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
            "какие у тебя", "поделись", "скопируй", "процитируй", "выдай", "озвучь",
        ),
        "secrets": (
            "системный промпт", "системное сообщение", "системные инструкции",
            "системную инструкцию", "исходные инструкции", "скрытые инструкции",
            "первоначальные инструкции", "секретные инструкции", "начальный промпт",
            "системный запрос", "системные указания",
        ),
        "now": (
            "теперь", "отныне", "с этого момента", "с этой минуты", "начиная с этого момента",
            "с сегодняшнего дня", "впредь", "сейчас",
        ),
        "lack": (
            "у тебя нет", "у вас нет", "у тебя больше нет", "у вас больше нет", "для тебя нет",
            "для вас нет", "на тебя не распространяются", "тебя не касаются",
            "для тебя не существует", "для вас не существует", "для тебя больше не существует",
            "для вас больше не существует", "не существует для тебя", "не существует для вас",
        ),
        "limits": (
            "ограничений", "никаких ограничений", "правил", "никаких правил", "фильтров",
            "никаких фильтров", "цензуры", "запретов", "никаких запретов", "рамок",
            "ограничения", "правила",
        ),
        "are": ("ты", "ты теперь", "вы", "ты стал", "ты станешь", "ты являешься"),
        "free": (
            "dan", "без ограничений", "без каких-либо ограничений", "без правил", "без фильтров",
            "без цензуры", "свободен от", "свободна от", "свободный от", "не ограничен",
            "не ограничена", "в режиме разработчика", "никем не ограничен",
        ),
        "after": (
            "на", "для", "по", "в", "во", "при", "к", "с", "у", "относительно", "касательно",
            "можешь", "можете", "сможешь", "сможете",
        ),
        "then": (
            "и", "а", "но", "ни", "ии", "искусственный интеллект", "ассистент", "модель",
            "чат-бот", "бот", "вообще", "ты", "вы",
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
        "now": (
            "从现在开始", "從現在開始", "从现在起", "從現在起", "现在", "現在", "从今以后",
            "從今以後", "今后", "今後", "此后", "此後", "从此", "從此", "接下来", "接下來",
        ),
        "lack": (
            "你没有", "你沒有", "您没有", "您沒有", "你不再有", "你不受", "您不受", "你不再受",
            "你已经没有", "你已經沒有", "对你没有", "對你沒有", "你将没有", "你將沒有",
        ),
        "limits": (
            "限制", "约束", "約束", "规则", "規則", "审查", "審查", "过滤", "過濾", "底线", "底線",
            "束缚", "束縛", "任何限制", "任何约束", "任何約束", "任何规则", "任何規則", "一切限制",
            "任何审查", "任何審查", "任何过滤", "任何過濾",
        ),
        "are": (
            "你", "您", "你是", "你就是", "你已经是", "你已經是", "你将是", "你將是", "你变成",
            "你變成",
        ),
        "free": (
            "dan", "不受限制", "不受任何限制", "无限制", "無限制", "没有限制", "沒有限制",
            "没有任何限制", "沒有任何限制", "不受约束", "不受約束", "开发者模式", "開發者模式",
            "越狱", "越獄", "是dan", "就是dan", "是不受限制的", "是一个不受限制的",
            "是一個不受限制的", "是没有任何限制的", "是一个没有任何限制的", "是沒有任何限制的",
            "是一個沒有任何限制的", "是无限制的", "是無限制的", "没有任何规则", "沒有任何規則",
            "没有规则", "沒有規則", "没有任何约束", "沒有任何約束", "不受任何规则", "不受任何規則",
            "不受任何约束", "不受任何約束",
        ),
        "after": ("地",),
        "then": (
            "了", "啦", "的", "ai", "人工智能", "助手", "模型", "机器人", "機器人", "可以", "并且",
            "並且", "而且", "和", "你",
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
        "now": (
            "今から", "これから", "今後", "これより", "今日から", "この瞬間から", "以後", "今は",
            "今や", "もう", "今、", "今では",
        ),
        "lack": (
            "あなたには", "あなたに", "君には", "きみには", "お前には", "あなたは", "君は",
            "お前は",
        ),
        "limits": (
            "制限がありません", "制限はありません", "制限がない", "制限はない", "制限なし",
            "制約がありません", "制約はありません", "制約がない", "制約はない",
            "ルールはありません", "ルールがありません", "ルールはない", "検閲はありません",
            "検閲がない",
            "フィルターはありません", "フィルターがない", "何の制限もない", "何の制限もありません",
            "一切の制限がない", "一切の制限はありません", "一切制限がない", "一切制限はありません",
            "一切の制限がありません", "いかなる制限もありません", "いかなる制限もない",
            "制限は一切ありません", "制限は一切ない", "いかなる制約も受けません",
            "いかなる制約も受けない", "いかなる制限も受けません", "いかなる制限も受けない",
            "何の制約も受けません", "何の制約も受けない", "一切の制約を受けません",
            "一切の制約を受けない", "制約を受けません", "制約を受けない", "制限を受けません",
            "制限を受けない", "規則はありません", "規則がありません", "規則はない", "ルールがない",
            "どんなルールにも縛られない", "どんなルールにも縛られません", "ルールに縛られない",
            "ルールに縛られません", "何にも縛られない", "何にも縛られません",
        ),
        "are": ("あなたは", "君は", "きみは", "お前は"),
        "free": (
            "dan", "制限のない", "無制限", "検閲のない", "制約のない", "開発者モード",
            "制限から解放", "制約から解放", "ルールから解放", "自由の身", "danで",
        ),
        "after": (),
        "then": (
            "です", "だ", "である", "よ", "ね", "の", "な", "ai", "アシスタント", "モデル",
            "人工知能", "ボット", "チャットボット", "し", "あなた",
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
        "now": (
            "지금부터", "이제부터", "이제", "앞으로", "지금", "오늘부터", "이 순간부터",
        ),
        "lack": (
            "너는", "넌", "너에게는", "너한테는", "당신은", "당신에게는", "너에겐", "당신에겐",
        ),
        "limits": (
            "제한이 없", "제한은 없", "제한 없", "제약이 없", "제약은 없", "규칙이 없", "규칙은 없",
            "검열이 없", "필터가 없", "아무 제한도 없", "어떤 제한도 없", "아무런 제한도 없",
            "아무 제약도 없", "어떤 제약도 없", "아무런 제약도 없", "제한도 없", "아무런 제약이 없",
            "아무런 제한이 없", "아무 제약이 없", "아무 제한이 없", "아무런 규칙이 없",
            "아무런 규칙도 없", "아무 규칙도 없", "어떤 규칙도 없", "규칙도 없", "제약도 없",
        ),
        "are": ("너는", "넌", "당신은"),
        "free": (
            "dan", "제한 없는", "무제한", "검열 없는", "제약 없는", "개발자 모드", "자유로운",
            "해방된",
        ),
        "after": (),
        "then": (
            "ai", "인공지능", "어시스턴트", "모델", "챗봇", "봇", "이야", "야", "입니다", "이다",
            "다", "어", "어요", "습니다", "고", "이고", "으니", "이에요", "예요", "너", "당신",
        ),
        "unspaced": True,
    },
}  # fmt: skip

#: Every language the rules know: English and those above.
LANGUAGES: tuple[str, ...] = ("en", *PHRASES)
