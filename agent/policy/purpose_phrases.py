"""The words people use for what a face check is for, and the words that make a phrase a statement of use.

Data only, read by :mod:`agent.policy.stated_purpose`. Each use has a short label (what an audit row and an answer
name; never the person's own words) and the catalogue purposes it can mean; a use that no shipped purpose covers
(a marketing campaign, hiring, the police) maps to none. Phrases are lower case without accents (they are matched
on text folded the same way); ``*`` at the end of a phrase matches any word that starts with it ("marketing*":
"Marketingkampagne", "werbe*": "Werbezwecke"). English, German, French and Spanish.
"""

from __future__ import annotations

# label -> (catalogue purposes it can mean, phrases)
# fmt: off
USES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "access control": (("access_control",), (
        "access control", "door", "doors", "office door", "front door", "entrance", "entry", "gate",
        "turnstile", "building access", "badge", "badge reader", "letting people in",
        "zutritt*", "zugangskontrolle", "tur", "turen", "eingang*", "einlass*", "pforte",
        "controle d'acces", "controle des acces", "porte", "portes", "entree", "portique",
        "control de acceso", "puerta", "puertas", "entrada", "torniquete",
    )),
    "access": (("access_control", "mfa"), ("access", "zugang", "zugriff", "acces", "acceso")),
    "authentication": (("mfa", "access_control"), (
        "mfa", "2fa", "two-factor", "two factor", "multi-factor", "multi factor", "second factor", "login",
        "log-in", "sign-in", "sign in", "authentication", "logging in",
        "anmeldung", "authentifizierung", "zwei-faktor*", "mehr-faktor*",
        "authentification", "connexion", "double authentification", "deuxieme facteur",
        "autenticacion", "inicio de sesion", "doble factor", "segundo factor",
    )),
    "customer service": (("customer_service",), (
        "customer service", "customer support", "help desk", "helpdesk", "returning customer", "returning customers",
        "kundendienst", "kundenservice", "kundenbetreuung", "service client", "service clientele",
        "atencion al cliente", "servicio al cliente",
    )),
    "personalised service": (("personalised_service",), (
        "personalised service", "personalized service", "personalisation", "personalization", "loyalty program",
        "loyalty programme", "personalisier*", "personnalis*", "personaliza*",
    )),
    "UX research": (("ux_research",), (
        "ux research", "ux study", "ux studies", "ux", "user research", "usability", "user testing", "user test",
        "ux_research", "nutzerforschung", "nutzerstudie", "benutzerstudie", "usability-test*",
        "recherche utilisateur", "test utilisateur", "tests utilisateurs", "etude utilisateur",
        "investigacion de usuarios", "pruebas de usabilidad", "prueba de usabilidad", "estudio de usuarios",
    )),
    "market research": (("market_research",), (
        "market research", "consumer research", "focus group", "focus groups", "panel study", "market_research",
        "marktforschung", "verbraucherstudie", "etude de marche", "etudes de marche",
        "estudio de mercado", "investigacion de mercado", "estudios de mercado",
    )),
    "research": (("ux_research", "market_research"), (
        "research", "study", "forschung", "studie", "recherche", "etude", "investigacion", "estudio",
    )),
    "marketing": ((), (
        "marketing*", "advertising", "advertisement", "advertisements", "advert", "adverts", "ads", "ad campaign",
        "campaign", "campaigns", "promotion", "promotions", "promotional", "billboard", "billboards",
        "werbe*", "werbung", "kampagne*", "publicite", "publicitaire*", "campagne*", "publicidad", "publicitari*",
        "campana", "campanas",
    )),
    "healthcare": (("healthcare",), (
        "healthcare", "health care", "medical", "clinical", "patient care", "hospital", "diagnosis",
        "medizin*", "klinik*", "krankenhaus", "patientenversorgung", "medical*", "clinique", "hopital", "soins",
        "medic*", "clinic*", "atencion sanitaria",
    )),
    "workplace monitoring": (("workplace_monitoring",), (
        "employee monitoring", "staff monitoring", "monitoring employees", "monitoring our employees",
        "monitoring staff", "monitoring our staff", "productivity", "performance review", "performance reviews",
        "mitarbeiteruberwachung", "leistungskontrolle", "uberwachung der mitarbeiter*",
        "surveillance des employes", "surveillance des salaries", "surveillance du personnel",
        "vigilancia de empleados", "control de empleados", "vigilancia del personal",
    )),
    "hiring": ((), (
        "hiring", "recruitment", "recruiting", "job interview", "job interviews", "candidate screening",
        "bewerber*", "personalauswahl", "rekrutierung", "einstellungsgesprach*", "recrutement", "embauche",
        "entretien d'embauche", "contratacion", "reclutamiento", "seleccion de personal",
    )),
    "workplace safety": (("workplace_safety",), (
        "workplace safety", "operator safety", "fatigue", "drowsiness", "arbeitssicherheit", "mudigkeit*",
        "securite au travail", "seguridad laboral", "fatiga",
    )),
    "education": (("education_engagement",), (
        "classroom", "students", "pupils", "school", "schools", "exam proctoring", "lecture", "lectures",
        "unterricht", "schuler", "schule", "prufung*", "classe", "eleves", "ecole", "examen", "aula", "alumnos",
        "escuela",
    )),
    "surveillance": (("public_surveillance",), (
        "surveillance", "cctv", "crowd", "crowds", "watchlist", "watch list", "street cameras", "public space",
        "uberwachung", "videouberwachung", "videosurveillance", "videovigilancia", "vigilancia",
    )),
    "law enforcement": ((), (
        "police", "law enforcement", "criminal investigation", "suspects", "polizei", "strafverfolgung",
        "fahndung", "enquete policiere", "policia", "investigacion policial",
    )),
    "insurance or credit": ((), (
        "insurance", "credit scoring", "credit check", "loan", "loans", "versicherung*", "kreditpr*", "assurance",
        "credit", "seguro", "seguros", "credito",
    )),
    "training AI models": ((), (
        "training data", "training set", "model training", "training our model", "training an ai", "ai training",
        "trainingsdaten", "ki-training", "donnees d'entrainement", "entrainement", "datos de entrenamiento",
        "entrenamiento",
    )),
    "selling data": ((), (
        "resale", "reselling", "selling the data", "selling the photos", "data broker", "weiterverkauf",
        "revente", "reventa", "venta de datos",
    )),
    "entertainment": ((), ("fun", "a game", "entertainment", "spass", "unterhaltung", "divertissement", "diversion")),
}

# Words that, shortly before a use, make it a statement of what the conversation is for.
MARKERS: tuple[str, ...] = (
    "for", "use", "used", "uses", "using", "used for", "use it for", "purpose", "purposes", "towards", "in our",
    "as part of", "part of", "into our", "switch to", "switching to", "change to", "changing to", "moving to",
    "fur", "furs", "zur", "zum", "zu", "nutzen", "verwenden", "zweck", "zwecke", "zwecken", "im rahmen",
    "wechseln zu",
    "pour", "utiliser", "utilise", "dans le cadre", "a des fins de", "aux fins de", "le but", "notre but",
    "mon but", "objectif", "finalite", "passer a",
    "para", "usar", "usarlo", "utilizar", "con fines de", "en el marco de", "proposito", "finalidad", "objetivo",
    "cambiar a",
)
# Words after a use that make "it's <use> now" a statement too.
NOW_WORDS: tuple[str, ...] = (
    "now", "instead", "from now on", "going forward", "today", "jetzt", "nun", "stattdessen", "ab jetzt",
    "maintenant", "desormais", "a present", "plutot", "ahora", "en cambio", "a partir de ahora",
)
COPULAS: tuple[str, ...] = (
    "is", "it's", "its", "that's", "are", "will be", "ist", "sind", "wird", "est", "c'est",
    "sont", "sera", "es", "son", "sera", "esta",
)
# Words that undo a statement before it in its clause: a negation ("not for marketing"), a contrast ("instead
# of marketing"), a condition or a permission question ("if", "can we use it for ...?").
BLOCKERS: tuple[str, ...] = (
    "not", "no", "never", "isn't", "aren't", "wasn't", "won't", "don't", "doesn't", "nor", "without",
    "instead of", "rather than", "except", "if", "whether", "unless", "would", "could", "might",
    "nicht", "kein", "keine", "keinen", "keiner", "nie", "niemals", "statt", "anstatt", "wenn", "falls", "ob",
    "ohne", "ne", "n'", "pas", "jamais", "ni", "au lieu de", "sans", "si", "sauf",
    "nunca", "ni", "sin", "en lugar de", "en vez de", "salvo",
)
# A question that asks permission ("can we use it for marketing?") states no use; a polite request ("can you
# verify img1 for our campaign?") does.
PERMISSION_OPENINGS: tuple[str, ...] = (
    "can we", "can i", "could we", "could i", "may we", "may i", "are we allowed", "am i allowed", "is it",
    "is that", "is this", "are these", "are those", "would it", "should we", "shall we", "do you think",
    "durfen wir", "darf ich", "konnen wir", "kann ich", "ist es", "ist das", "sollen wir",
    "pouvons-nous", "pouvons nous", "peut-on", "peut on", "puis-je", "puis je", "est-ce", "est ce",
    "podemos", "puedo", "se puede", "es posible", "esta permitido", "deberiamos",
)
# fmt: on

__all__ = ["BLOCKERS", "COPULAS", "MARKERS", "NOW_WORDS", "PERMISSION_OPENINGS", "USES"]
