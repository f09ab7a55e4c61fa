"""Words that fill the synthetic documents: clinics, doctors, patients, medicines, shop items.

Only plain ASCII, because cv2.putText's Hershey fonts draw nothing else.
"""

from __future__ import annotations

import numpy as np

CLINIC_WORDS = (
    "City",
    "Care",
    "Sunrise",
    "Lotus",
    "Green Valley",
    "Apollo",
    "Hope",
    "Metro",
    "Shanti",
    "Lakeside",
    "St. Mary's",
    "Riverside",
    "Unity",
    "Harmony",
    "Westside",
    "Family",
    "Oak Park",
)
CLINIC_KINDS = (
    "Clinic",
    "Medical Centre",
    "Hospital",
    "Health Centre",
    "Polyclinic",
    "Nursing Home",
    "Family Practice",
    "Diagnostics & Clinic",
)
FIRST_NAMES = (
    "Anita",
    "Rahul",
    "Maria",
    "John",
    "Fatima",
    "Wei",
    "Priya",
    "Ahmed",
    "Sara",
    "David",
    "Kofi",
    "Elena",
    "Ravi",
    "Grace",
    "Tom",
    "Aisha",
    "Li",
    "Carlos",
    "Meera",
    "Noah",
)
LAST_NAMES = (
    "Sharma",
    "Smith",
    "Garcia",
    "Khan",
    "Chen",
    "Okafor",
    "Rossi",
    "Patel",
    "Nguyen",
    "Brown",
    "Mensah",
    "Ivanova",
    "Iyer",
    "Silva",
    "Mueller",
    "Das",
    "Haddad",
    "Kim",
    "Lopez",
    "Adeyemi",
)
DEGREES = (
    "MBBS, MD",
    "MBBS, DNB (Med)",
    "MD (General Medicine)",
    "MBBS, DCH",
    "MD, FRCP",
    "MBBS, MS",
    "DO, FACP",
    "MBBS, MRCGP",
    "MD (Paed.)",
    "MBBS, DGO",
)
STREETS = (
    "Main Road",
    "Station Road",
    "MG Road",
    "High Street",
    "Park Avenue",
    "Church Lane",
    "Market Street",
    "Lake View Road",
    "Hill Road",
    "Ring Road",
)
CITIES = ("Pune", "Leeds", "Austin", "Nairobi", "Lyon", "Chennai", "Porto", "Accra", "Dublin", "Kochi")
DRUGS = (
    "Amoxicillin",
    "Paracetamol",
    "Metformin",
    "Atorvastatin",
    "Amlodipine",
    "Omeprazole",
    "Azithromycin",
    "Cetirizine",
    "Ibuprofen",
    "Losartan",
    "Pantoprazole",
    "Salbutamol",
    "Levothyroxine",
    "Doxycycline",
    "Montelukast",
    "Metoprolol",
    "Vitamin D3",
    "Ciprofloxacin",
    "Prednisolone",
    "Clopidogrel",
    "Ondansetron",
    "Ranitidine",
    "Folic Acid",
    "Glimepiride",
)
FORMS = ("Tab.", "Cap.", "Syp.", "Inj.", "Tab", "Cap", "Oint.", "Drops")
STRENGTHS = (
    "500 mg",
    "250 mg",
    "650 mg",
    "10 mg",
    "20 mg",
    "40 mg",
    "5 mg",
    "100 mg",
    "1 g",
    "2.5 mg",
    "60000 IU",
    "5 ml",
    "75 mg",
    "400 mg",
)
DOSES = (
    "1-0-1",
    "1-1-1",
    "0-0-1",
    "1-0-0",
    "1/2-0-1/2",
    "2-0-2",
    "1-1-0",
    "SOS",
    "OD",
    "BD",
    "TDS",
    "HS",
    "1 tsp TDS",
    "2 puffs BD",
)
DURATIONS = (
    "x 5 days",
    "x 7 days",
    "x 3 days",
    "x 10 days",
    "x 1 month",
    "x 2 weeks",
    "for 5 days",
    "after food",
    "before food",
    "x 14 days",
)
INSTRUCTIONS = (
    "Review after 1 week",
    "Plenty of fluids",
    "Avoid oily food",
    "Follow up with reports",
    "Rest for 3 days",
    "Check BP daily",
    "Repeat CBC",
    "Diet advice given",
)
SHOP_ITEMS = (
    "MILK 1L",
    "BREAD",
    "EGGS 12",
    "RICE 5KG",
    "TEA 250G",
    "SOAP",
    "APPLES",
    "SUGAR 1KG",
    "COFFEE",
    "BUTTER",
    "TOMATO",
    "ONION",
    "YOGURT",
    "BISCUITS",
    "WATER 2L",
    "SHAMPOO",
)
FORM_FIELDS = (
    "Name",
    "Date of birth",
    "Address",
    "Phone",
    "Policy no.",
    "Signature",
    "Email",
    "Gender",
    "Occupation",
    "Emergency contact",
    "Insurer",
    "Member ID",
    "Date",
    "Reference",
)
LETTER_WORDS = (
    "the",
    "of",
    "and",
    "to",
    "in",
    "your",
    "we",
    "please",
    "account",
    "payment",
    "regarding",
    "appointment",
    "service",
    "request",
    "information",
    "following",
    "date",
    "office",
    "thank",
    "you",
    "for",
    "with",
    "this",
    "letter",
    "confirm",
    "receipt",
    "our",
    "records",
    "as",
    "per",
    "policy",
    "will",
    "be",
    "on",
    "at",
    "from",
    "further",
    "details",
    "enclosed",
)


def pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def person(rng: np.random.Generator) -> str:
    return f"{pick(rng, FIRST_NAMES)} {pick(rng, LAST_NAMES)}"


def clinic_name(rng: np.random.Generator) -> str:
    return f"{pick(rng, CLINIC_WORDS)} {pick(rng, CLINIC_KINDS)}"


def address(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(1, 400))}, {pick(rng, STREETS)}, {pick(rng, CITIES)}"


def phone(rng: np.random.Generator) -> str:
    digits = "".join(str(d) for d in rng.integers(0, 10, 10))
    return f"Ph: {digits[:3]}-{digits[3:6]}-{digits[6:]}"


def date(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(1, 29)):02d}/{int(rng.integers(1, 13)):02d}/20{int(rng.integers(18, 27))}"


def medicine_line(rng: np.random.Generator) -> str:
    parts = [pick(rng, FORMS), pick(rng, DRUGS), pick(rng, STRENGTHS), pick(rng, DOSES)]
    if rng.random() < 0.8:
        parts.append(pick(rng, DURATIONS))
    return " ".join(parts)


def sentence(rng: np.random.Generator, words: int) -> str:
    text = " ".join(pick(rng, LETTER_WORDS) for _ in range(words))
    return text[0].upper() + text[1:]
