"""One made-up client: names, languages, origins, contact details and health card, drawn from a seeded generator.

The values follow the agency's option lists and a Toronto-area population (many languages,
many newcomers); the person keeps what their histories depend on (gender, newcomer).
"""

import random
import uuid
from datetime import date, timedelta
from typing import NamedTuple

from faker import Faker

from app.choices import SOURCE_SYSTEMS
from app.models import EXTENDED_FIELDS, Client, ClientSourceId
from app.services.demo.drawing import ascii_word, pick, pick_many

# Every demo client's external id starts so: the seed finds its own clients by it.
UID_PREFIX = "DEMO-"

_CITIES: dict[str, tuple[str, int, tuple[str, ...]]] = {
    # city: (postal code first letter, weight, streets)
    "Toronto": ("M", 45, ("Queen St E", "Dundas St W", "Jarvis St", "Sherbourne St", "Parliament St",
                          "Bloor St W", "Danforth Ave", "Gerrard St E", "Bathurst St", "Spadina Ave",
                          "Dufferin St", "Pape Ave", "College St", "King St W")),
    "Scarborough": ("M", 10, ("Kingston Rd", "Eglinton Ave E", "Markham Rd", "Lawrence Ave E",
                              "Victoria Park Ave", "Sheppard Ave E")),
    "North York": ("M", 9, ("Finch Ave W", "Jane St", "Keele St", "Wilson Ave", "Lawrence Ave W")),
    "Etobicoke": ("M", 6, ("Lake Shore Blvd W", "Islington Ave", "Albion Rd", "Kipling Ave")),
    "York": ("M", 3, ("Weston Rd", "Eglinton Ave W", "Rogers Rd")),
    "Mississauga": ("L", 9, ("Hurontario St", "Dundas St E", "Burnhamthorpe Rd W", "Eglinton Ave W")),
    "Brampton": ("L", 7, ("Main St N", "Queen St E", "Steeles Ave W", "Bovaird Dr E")),
    "Hamilton": ("L", 4, ("King St E", "Barton St E", "James St N", "Main St W")),
    "Oshawa": ("L", 3, ("Simcoe St N", "King St W", "Ritson Rd S")),
    "Markham": ("L", 2, ("Highway 7", "Steeles Ave E", "Kennedy Rd")),
    "Ottawa": ("K", 2, ("Rideau St", "Bank St", "Somerset St W")),
}
_AREA_CODES = ("416", "647", "437", "905", "289", "365")
_POSTAL_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"

_COUNTRIES_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "English": ("Jamaica", "United Kingdom", "Nigeria", "Ghana", "Guyana", "Trinidad and Tobago", "India"),
    "French": ("Haiti", "Democratic Republic of the Congo", "Cameroon", "France", "Côte d'Ivoire"),
    "Arabic": ("Syria", "Iraq", "Sudan", "Lebanon", "Egypt"),
    "Somali": ("Somalia",),
    "Spanish": ("Mexico", "Colombia", "Venezuela", "El Salvador"),
    "Tamil": ("Sri Lanka", "India"),
    "Mandarin": ("China", "Taiwan"),
    "Cantonese": ("Hong Kong", "China"),
    "Punjabi": ("India", "Pakistan"),
    "Urdu": ("Pakistan",),
    "Tagalog": ("Philippines",),
    "Portuguese": ("Portugal", "Brazil", "Angola"),
    "Farsi": ("Iran", "Afghanistan"),
    "Tigrinya": ("Eritrea",),
    "Amharic": ("Ethiopia",),
    "Other": ("Ukraine", "Vietnam", "Nepal", "Turkey", "Poland"),
}
_INDIGENOUS_LANGUAGES = ("Ojibwe", "Cree")

_RELATIONSHIPS = ("Mother", "Father", "Sister", "Brother", "Friend", "Partner", "Spouse", "Daughter", "Son",
                  "Aunt", "Cousin", "Case worker")
_NICKNAMES = ("Red", "Shorty", "Bear", "Lucky", "Slim", "Doc", "Sunny", "Mack", "Smokey", "Ace", "Tiny", "Junior")
_NO_CARD_REASONS = ("Lost", "Stolen", "Never had one", "Expired, renewal pending", "Out of province")
_COMMENTS = ("Prefers morning appointments.", "Uses a walker; ground floor only.",
             "Best reached through drop-in staff.", "Has a service dog.", "Works evenings.",
             "Asked that mail go to the program office.")

_SOURCE_WEIGHTS = {"SMIS": 40, "EMHware": 25, "FFAI": 15, "CCD": 20}

# Extended fields a demo client may have: key -> generator of a value of the declared type.
_EXTENDED = {
    "household_size": lambda rng: rng.choices([1, 2, 3, 4, 5, 6], [45, 20, 15, 10, 6, 4])[0],
    "chronically_homeless": lambda rng: rng.random() < 0.35,
    "income_source": lambda rng: rng.choice(["Ontario Works", "ODSP", "Employment", "CPP/OAS", "EI", "None"]),
    "veteran_status": lambda rng: rng.choices(["No", "Yes – Canadian Armed Forces", "Prefer not to answer"],
                                              [90, 5, 5])[0],
    "num_bednights_current_stay": lambda rng: rng.randint(1, 400),
    "length_homeless_3yrs": lambda rng: rng.randint(0, 36),
    "pet_owner": lambda rng: rng.random() < 0.15,
    "allergies": lambda rng: rng.choice(["Peanuts", "Penicillin", "Shellfish", "Latex", "None known"]),
    "highest_level_education": lambda rng: rng.choice(["Some high school", "High school", "College",
                                                       "University", "Unknown"]),
    "lhin": lambda rng: rng.choice(["Toronto Central", "Central", "Central East", "Central West",
                                    "Mississauga Halton"]),
    "mental_health_support": lambda rng: rng.random() < 0.4,
    "limited_mobility": lambda rng: rng.random() < 0.1,
}
_EXTENDED_TYPES = {"int": int, "bool": bool, "text": str}



def _phone(rng: random.Random) -> str:
    return f"{rng.choice(_AREA_CODES)}-555-{rng.randint(100, 199):04d}"


def _postal_code(rng: random.Random, first_letter: str) -> str:
    letters = _POSTAL_LETTERS
    return (f"{first_letter}{rng.randint(0, 9)}{rng.choice(letters)} "
            f"{rng.randint(0, 9)}{rng.choice(letters)}{rng.randint(0, 9)}")



class Person(NamedTuple):
    client: Client
    gender: str | None
    newcomer: bool


def _languages(rng: random.Random, locale: str) -> tuple[list[str], str, str | None, bool]:
    """Spoken languages, the preferred one, the official language and whether an interpreter is needed."""
    if locale == "fr_CA":
        primary = rng.choices(["French", "English"], [80, 20])[0]
    else:
        primary = pick(rng, "language", {"English": 160, "French": 6, "Arabic": 4, "Somali": 4, "Spanish": 4,
                                         "Tamil": 3, "Mandarin": 3, "Cantonese": 2, "Punjabi": 3, "Urdu": 2,
                                         "Tagalog": 2, "Portuguese": 2, "Farsi": 2, "Tigrinya": 2,
                                         "Amharic": 2, "Ojibwe": 1, "Cree": 1, "Other": 2})
    spoken = [primary]
    count = rng.choices([1, 2, 3], [60, 30, 10])[0]
    if count > 1 and primary != "English" and rng.random() < 0.7:
        spoken.append("English")
    while len(spoken) < count:
        extra = pick(rng, "language", {"English": 20, "French": 12})
        if extra not in spoken:
            spoken.append(extra)
    preferred = primary if rng.random() < 0.85 else rng.choice(spoken)
    if preferred == "French" or (preferred != "English" and "French" in spoken and "English" not in spoken):
        official = "French"
    elif "English" in spoken:
        official = "English"
    elif "French" in spoken:
        official = "French"
    else:
        official = "Neither"
    if rng.random() < 0.05:
        official = None
    interpreter = official == "Neither" or (preferred not in ("English", "French") and rng.random() < 0.4)
    return spoken, preferred, official, interpreter


def _gender_and_pronoun(rng: random.Random) -> tuple[str | None, str | None]:
    gender = pick(rng, "gender", {"Man": 48, "Woman": 40, "Non-binary": 2.5, "Two-Spirit": 1,
                                  "Transgender woman": 1, "Transgender man": 1, "Gender diverse": 1,
                                  "Prefer not to answer": 2, "Unknown": 2}, none=0.04)
    if rng.random() < 0.25:
        return gender, None
    if gender in ("Woman", "Transgender woman"):
        return gender, "she/her"
    if gender in ("Man", "Transgender man"):
        return gender, "he/him"
    if gender in ("Non-binary", "Gender diverse", "Two-Spirit"):
        return gender, "ze/zir" if rng.random() < 0.1 else "they/them"
    return gender, "Prefer not to answer" if rng.random() < 0.5 else None


def make_client(rng: random.Random, fake: Faker, number: int, today: date,
                used_source_ids: set[tuple[str, str]]) -> Person:
    locale = "fr_CA" if rng.random() < 0.3 else "en_CA"
    names = fake[locale]
    gender, pronoun = _gender_and_pronoun(rng)
    if gender in ("Woman", "Transgender woman"):
        first_name = names.first_name_female()
    elif gender in ("Man", "Transgender man"):
        first_name = names.first_name_male()
    else:
        first_name = names.first_name()
    last_name = names.last_name()

    dob = None
    if rng.random() >= 0.03:
        age = rng.uniform(16, 25) if rng.random() < 0.15 else rng.triangular(18, 85.9, 38)
        age_days = int(age * 365.25)
        dob = today - timedelta(days=age_days)

    spoken, preferred, official, interpreter = _languages(rng, locale)
    primary = spoken[0]
    if primary in _INDIGENOUS_LANGUAGES:
        country = "Canada"
    elif primary == "English":
        country = "Canada" if rng.random() < 0.85 else rng.choice(_COUNTRIES_BY_LANGUAGE["English"])
    elif primary == "French":
        country = "Canada" if rng.random() < 0.7 else rng.choice(_COUNTRIES_BY_LANGUAGE["French"])
    else:
        country = rng.choice(_COUNTRIES_BY_LANGUAGE[primary])
    newcomer = country != "Canada"
    if newcomer:
        citizenship = pick(rng, "citizenship_status", {
            "Canadian citizen": 30, "Permanent resident": 30, "Refugee": 10, "Refugee claimant": 12,
            "Temporary resident": 3, "Work permit": 5, "Study permit": 3, "Undocumented": 2,
            "Prefer not to answer": 2, "Unknown": 3}, none=0.05)
    else:
        citizenship = ("Canadian citizen" if rng.random() < 0.9
                       else rng.choice(["Prefer not to answer", "Unknown", None]))
    if primary in _INDIGENOUS_LANGUAGES:
        indigenous = "First Nations"
    else:
        indigenous = pick(rng, "indigenous_status", {"First Nations": 5, "Métis": 2, "Inuit": 0.5,
                                                     "Non-Indigenous": 75, "Prefer not to answer": 3,
                                                     "Unknown": 5}, none=0.1)
    if newcomer:
        indigenous = None if indigenous in ("First Nations", "Métis", "Inuit") else indigenous

    city = rng.choices(list(_CITIES), [weight for _, weight, _ in _CITIES.values()])[0]
    postal_letter, _, streets = _CITIES[city]
    has_address = rng.random() < 0.85
    has_phone = rng.random() < 0.85
    has_email = rng.random() < 0.4
    has_card = rng.random() < 0.6
    has_contact = rng.random() < 0.5

    client = Client(
        id=uuid.uuid4(),
        first_name=first_name,
        middle_name=names.first_name() if rng.random() < 0.2 else None,
        last_name=last_name,
        preferred_name=(names.first_name_female() if gender in ("Woman", "Transgender woman")
                        else names.first_name_male() if gender in ("Man", "Transgender man")
                        else names.first_name()) if rng.random() < 0.15 else None,
        alias=rng.choice(_NICKNAMES) if rng.random() < 0.1 else None,
        dob=dob,
        gender=gender,
        pronoun=pronoun,
        sexual_orientation=pick(rng, "sexual_orientation", {
            "Heterosexual": 70, "Gay": 4, "Lesbian": 3, "Bisexual": 5, "Pansexual": 1, "Asexual": 1,
            "Queer": 2, "Two-Spirit": 0.5, "Questioning": 1, "Prefer not to answer": 6, "Unknown": 6}, none=0.1),
        citizenship_status=citizenship,
        indigenous_status=indigenous,
        country_of_birth=country if rng.random() < 0.9 else None,
        marital_status=pick(rng, "marital_status", {"Single": 55, "Married": 12, "Common-law": 8,
                                                    "Separated": 9, "Divorced": 9, "Widowed": 3,
                                                    "Unknown": 4}, none=0.08),
        languages_spoken=spoken,
        preferred_language=preferred,
        official_language=official,
        interpreter_needed=interpreter,
        ethnicity=pick_many(rng, "ethnicity", rng.choices([0, 1, 2], [25, 60, 15])[0]),
        race=pick(rng, "race", {"Black": 14, "East Asian": 8, "Indigenous": 5, "Latino": 4, "Middle Eastern": 5,
                                "South Asian": 12, "Southeast Asian": 5, "White": 35,
                                "Another race category": 3, "Prefer not to answer": 4, "Unknown": 5}, none=0.1),
        phone=_phone(rng) if has_phone else None,
        phone_alt=_phone(rng) if has_phone and rng.random() < 0.1 else None,
        email=(f"{ascii_word(first_name)}.{ascii_word(last_name)}{rng.randint(1, 99)}@"
               f"{rng.choice(('example.com', 'example.net', 'example.org'))}") if has_email else None,
        address_line1=f"{rng.randint(1, 2999)} {rng.choice(streets)}" if has_address else None,
        address_line2=f"Unit {rng.randint(1, 1800)}" if has_address and rng.random() < 0.3 else None,
        city=city if has_address else None,
        province="ON" if has_address else None,
        postal_code=_postal_code(rng, postal_letter) if has_address else None,
        permission_to_phone=has_phone and rng.random() < 0.7,
        permission_to_email=has_email and rng.random() < 0.5,
        emergency_contact_name=f"{names.first_name()} {names.last_name()}" if has_contact else None,
        emergency_contact_relationship=rng.choice(_RELATIONSHIPS) if has_contact else None,
        emergency_contact_phone=_phone(rng) if has_contact else None,
        health_card_number=str(rng.randint(1_000_000_000, 9_999_999_999)) if has_card else None,
        health_card_version=(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ") + rng.choice("ABCDEFGHJKLMNPRSTVWXYZ")
                             if has_card else None),
        health_card_exp_date=today + timedelta(days=rng.randint(-180, 5 * 365)) if has_card else None,
        health_card_issuing_province="ON" if has_card else None,
        no_health_card_reason=rng.choice(_NO_CARD_REASONS) if not has_card and rng.random() < 0.5 else None,
        source_system=rng.choices(list(_SOURCE_WEIGHTS), list(_SOURCE_WEIGHTS.values()))[0],
        uid_external=f"{UID_PREFIX}{number:05d}",
        is_inactive=rng.random() < 0.05,
        comments=rng.choice(_COMMENTS) if rng.random() < 0.05 else None,
        extended=_extended(rng) if rng.random() < 0.2 else {},
    )
    if client.source_system in SOURCE_SYSTEMS:
        client.source_ids = [ClientSourceId(source_system=client.source_system,
                                            source_client_id=_source_id(rng, client.source_system, used_source_ids))]
    return Person(client, gender, newcomer)


def _extended(rng: random.Random) -> dict:
    values = {}
    for key in rng.sample(sorted(_EXTENDED), rng.randint(2, 4)):
        value = _EXTENDED[key](rng)
        if not isinstance(value, _EXTENDED_TYPES[EXTENDED_FIELDS[key]]):
            raise TypeError(f"Demo value for {key!r} is not a {EXTENDED_FIELDS[key]}.")
        values[key] = value
    return values


def _source_id(rng: random.Random, source: str, used: set[tuple[str, str]]) -> str:
    """An id in the shape the source system uses, unique within that source (existing rows included)."""
    while True:
        if source == "SMIS":
            value = str(rng.randint(100000, 999999))
        elif source == "EMHware":
            value = f"CLI{rng.randint(1, 999999):06d}"
        else:
            value = f"FF-{rng.randint(10000, 99999)}"
        if (source, value) not in used:
            used.add((source, value))
            return value
