"""The local engine on identity documents and insurance cards, from hand-built OCR lines.

The layouts reproduce what RapidOCR reads on real AWS sample images (positions and text as read,
slips included): the US passport specimen (workshops/samples/textract/Passport.png), the synthetic
Massachusetts licence (textractor tests/fixtures/fake_id.png) and the health insurance card
(workshops/industry/insurance/.../insurance_card.png). No OCR runs here.
"""

from __future__ import annotations

from typing import Any

import pytest

from docpipe.classify import QUERIES
from docpipe_local.engine import blocks, forms, identity
from docpipe_local.engine.layout import Box, Line, Page, Word

# The queries docpipe asks of insurance documents (its configuration, not a copy).
INSURANCE_QUERIES = QUERIES["insurance"]
# A valid TD3 zone (ICAO 9303 specimen), check digits included.
MRZ = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10")


def line(text: str, left: float, top: float, right: float, bottom: float, confidence: float = 99.0) -> Line:
    """A line whose words get x-extents proportional to their character offsets (as OCR boxes)."""
    width = right - left
    words, offset = [], 0
    for token in text.split(" "):
        if token:
            start, end = left + width * offset / len(text), left + width * (offset + len(token)) / len(text)
            words.append(Word(token, Box(start, top, end - start, bottom - top).quad(), confidence))
        offset += len(token) + 1
    return Line(words, Box(left, top, width, bottom - top).quad(), confidence)


def page(*lines: Line) -> Page:
    return Page(1, list(lines), "ocr")


def id_fields(p: Page) -> dict[str, dict[str, Any]]:
    document = identity.identity_document(p, 1)
    return {f["Type"]["Text"]: f["ValueDetection"] for f in document["IdentityDocumentFields"]}


def passport_lines() -> list[Line]:
    return [
        line("PASSPORT", 0.249, 0.212, 0.317, 0.224),
        line("Type/Type/Tipo", 0.388, 0.230, 0.466, 0.242),
        line("Code/Code/Codigo", 0.480, 0.230, 0.577, 0.242),
        line("Passport No./ No.du Passeport / No.de Passporte", 0.590, 0.230, 0.837, 0.242),
        line("P", 0.426, 0.242, 0.441, 0.254),
        line("USA", 0.509, 0.241, 0.549, 0.256),
        line("918268822", 0.653, 0.243, 0.737, 0.255, 98.0),
        line("USA", 0.251, 0.261, 0.313, 0.282),
        line("Sumame / Nom / Appelidos", 0.387, 0.255, 0.523, 0.268),
        line("Alejandro", 0.387, 0.266, 0.465, 0.281),
        line("Given Names/Prenoms/Nombres", 0.387, 0.280, 0.561, 0.293),
        line("Rosalez", 0.387, 0.292, 0.452, 0.306),
        line("Nationality/Nationalite/Nacionalidad", 0.387, 0.306, 0.570, 0.317),
        line("UNITEDSTATESOFAMERICA", 0.387, 0.318, 0.626, 0.331),
        line("Date of birth/Datede naissance /Fecha de nacimiento", 0.388, 0.332, 0.655, 0.344),
        line("15 Apr 1990", 0.389, 0.344, 0.481, 0.356),
        line("Place of birth / Lieu de naissance / Lugar de nacimiento", 0.388, 0.358, 0.654, 0.370),
        line("Sex/Sexe/ Sexo", 0.748, 0.359, 0.837, 0.371),
        line("Texas, U.S.A.", 0.387, 0.370, 0.492, 0.384),
        line("M", 0.786, 0.371, 0.801, 0.382),
        line("Dateof issue/Datededelivrance/Fecha deexpedicion", 0.387, 0.385, 0.660, 0.396),
        line("Authority/ Autorite/ Autoridad", 0.720, 0.386, 0.866, 0.397),
        line("29Jan2009", 0.389, 0.397, 0.482, 0.409),
        line("United States", 0.738, 0.401, 0.845, 0.416),
        line("Date of expiration/Date d'expiration/ Fecha de caducidad", 0.386, 0.410, 0.670, 0.424),
        line("Department of State", 0.714, 0.417, 0.870, 0.430),
        line("31 Jan 2029", 0.389, 0.423, 0.482, 0.435),
        line("Endorsements/MentionsSpeciales/Anotaciones", 0.387, 0.436, 0.632, 0.449),
        line("SEEPAGE27", 0.388, 0.448, 0.497, 0.462),
        line("P<USAROSALEZ<<ALEJANDRO<<<", 0.215, 0.484, 0.543, 0.497),
    ]


def test_passport_values_under_multilingual_labels() -> None:
    # GIVEN a passport page: labels in three languages, each value on the line below its label
    # WHEN AnalyzeID reads it
    fields = id_fields(page(*passport_lines()))
    # THEN the visual zone's values are the fields, dates as printed and normalised
    texts = {kind: value["Text"] for kind, value in fields.items()}
    assert texts == {
        "DOCUMENT_NUMBER": "918268822", "LAST_NAME": "Alejandro", "FIRST_NAME": "Rosalez",
        "DATE_OF_BIRTH": "15 Apr 1990", "PLACE_OF_BIRTH": "Texas, U.S.A.", "DATE_OF_ISSUE": "29 Jan 2009",
        "EXPIRATION_DATE": "31 Jan 2029", "ID_TYPE": "PASSPORT",
    }
    assert fields["DATE_OF_BIRTH"]["NormalizedValue"] == {"Value": "1990-04-15T00:00:00", "ValueType": "Date"}
    assert fields["DATE_OF_ISSUE"]["NormalizedValue"]["Value"] == "2009-01-29T00:00:00"
    assert fields["EXPIRATION_DATE"]["NormalizedValue"]["Value"] == "2029-01-31T00:00:00"
    # AND a label OCR misread ("Sumame") makes its value less sure than a cleanly read one
    assert fields["LAST_NAME"]["Confidence"] < fields["FIRST_NAME"]["Confidence"]
    # AND the partial MRZ line (no check digits) gives neither MRZ_CODE nor names


def test_passport_given_names_split_into_first_and_middle() -> None:
    # GIVEN a passport whose "Given Names" line holds two names
    lines = passport_lines()
    rosalez = next(ln for ln in lines if ln.text == "Rosalez")
    lines[lines.index(rosalez)] = line("Rosalez Maria", 0.387, 0.292, 0.520, 0.306)
    # WHEN AnalyzeID reads it
    fields = id_fields(page(*lines))
    # THEN the first is FIRST_NAME and the rest MIDDLE_NAME
    assert (fields["FIRST_NAME"]["Text"], fields["MIDDLE_NAME"]["Text"]) == ("Rosalez", "Maria")


def test_valid_mrz_confirms_and_contradicts_the_visual_zone() -> None:
    # GIVEN a passport whose MRZ check digits validate, number L898902C3, born 740812, expiring 120415
    def card(number: str) -> Page:
        return page(
            line("PASSPORT", 0.05, 0.05, 0.20, 0.08),
            line("Passport No.", 0.50, 0.10, 0.70, 0.13), line(number, 0.50, 0.13, 0.70, 0.16, 90.0),
            line("Date of birth", 0.10, 0.30, 0.30, 0.33), line("12 Aug 1974", 0.10, 0.33, 0.30, 0.36, 90.0),
            line(MRZ[0], 0.05, 0.80, 0.95, 0.84, 97.0), line(MRZ[1], 0.05, 0.85, 0.95, 0.89, 96.0))

    # WHEN the visual zone agrees with it
    agreeing = id_fields(card("L898902C3"))
    # THEN MRZ_CODE is both lines and the confirmed values are as sure as the MRZ read
    assert agreeing["MRZ_CODE"]["Text"] == "\n".join(MRZ)
    assert agreeing["DOCUMENT_NUMBER"]["Confidence"] == 96.0 and agreeing["DATE_OF_BIRTH"]["Confidence"] == 96.0
    # AND a visual value the MRZ contradicts is kept (it is what is printed) but doubted
    disagreeing = id_fields(card("L898902C4"))
    assert disagreeing["DOCUMENT_NUMBER"]["Text"] == "L898902C4"
    assert disagreeing["DOCUMENT_NUMBER"]["Confidence"] < 50


def test_mrz_with_a_wrong_check_digit_is_not_used() -> None:
    # GIVEN the same zone with one digit of the birth date misread
    bad = MRZ[1].replace("7408122", "7408132")
    p = page(line("PASSPORT", 0.05, 0.05, 0.20, 0.08),
             line(MRZ[0], 0.05, 0.80, 0.95, 0.84), line(bad, 0.05, 0.85, 0.95, 0.89))
    # WHEN AnalyzeID reads it
    # THEN there is no MRZ_CODE at all
    assert "MRZ_CODE" not in id_fields(p)


def licence_lines(street: Line) -> list[Line]:
    return [
        line("MASSACHUSETTS", 0.054, 0.072, 0.499, 0.131), line("DRIVER", 0.518, 0.064, 0.596, 0.101),
        line("LICENSE", 0.518, 0.103, 0.604, 0.140),
        line("4aISS", 0.494, 0.237, 0.547, 0.270), line("4dNUMBER", 0.704, 0.237, 0.804, 0.268),
        line("03/18/2018", 0.515, 0.263, 0.677, 0.311), line("736HDV7874JSB", 0.731, 0.268, 0.942, 0.305),
        line("4bEXP", 0.495, 0.325, 0.553, 0.358), line("3DOB", 0.712, 0.325, 0.769, 0.358),
        line("01/20/2028", 0.518, 0.357, 0.676, 0.401), line("03/18/2001", 0.728, 0.357, 0.884, 0.401),
        line(",MARIA", 0.390, 0.507, 0.547, 0.577), line("2GARCIA", 0.388, 0.579, 0.513, 0.629),
        street, line("BIGTOWN,MA,02801", 0.408, 0.700, 0.709, 0.741),
    ]


def test_licence_fields_after_glued_field_numbers() -> None:
    # GIVEN a licence where OCR glued the AAMVA numbers to labels and the 8 to the house number,
    # which hangs a character left of the city line
    fields = id_fields(page(*licence_lines(line("810O MARKETSTREET", 0.392, 0.643, 0.700, 0.684))))
    # THEN the labelled values are read under their labels
    assert fields["DOCUMENT_NUMBER"]["Text"] == "736HDV7874JSB"
    assert fields["DATE_OF_ISSUE"]["NormalizedValue"]["Value"] == "2018-03-18T00:00:00"
    assert fields["EXPIRATION_DATE"]["Text"] == "01/20/2028" and fields["DATE_OF_BIRTH"]["Text"] == "03/18/2001"
    # AND names follow the AAMVA numbering (1 family name above 2 given name)
    assert (fields["FIRST_NAME"]["Text"], fields["LAST_NAME"]["Text"]) == ("GARCIA", "MARIA")
    # AND the address is what the card prints, without the field number
    assert fields["ADDRESS"]["Text"] == "100 MARKET STREET"
    assert (fields["CITY_IN_ADDRESS"]["Text"], fields["STATE_IN_ADDRESS"]["Text"],
            fields["ZIP_CODE_IN_ADDRESS"]["Text"]) == ("BIGTOWN", "MA", "02801")
    assert fields["ID_TYPE"]["Text"] == "DRIVER LICENSE FRONT"


def test_licence_street_aligned_with_the_city_keeps_its_leading_8() -> None:
    # GIVEN a street line starting with 8 that is aligned with the city line (no field number)
    fields = id_fields(page(*licence_lines(line("812 ELM STREET", 0.408, 0.643, 0.650, 0.684))))
    # THEN the 8 is part of the house number
    assert fields["ADDRESS"]["Text"] == "812 ELM STREET"


@pytest.mark.parametrize(("printed", "text", "iso"), [
    ("15 Apr 1990", "15 Apr 1990", "1990-04-15"),
    ("29Jan2009", "29 Jan 2009", "2009-01-29"),
    ("Dec24,2020", "Dec 24, 2020", "2020-12-24"),
    ("03/18/1978", "03/18/1978", "1978-03-18"),
    ("25/12/1990", "25/12/1990", "1990-12-25"),
])
def test_date_fields_are_normalised(printed: str, text: str, iso: str) -> None:
    # GIVEN a DOB label with a date under it, as OCR read it
    p = page(line("DOB", 0.1, 0.10, 0.2, 0.13), line(printed, 0.1, 0.13, 0.3, 0.16))
    # WHEN AnalyzeID reads it
    dob = id_fields(p)["DATE_OF_BIRTH"]
    # THEN the text is the date as printed and NormalizedValue its midnight ISO form
    assert dob["Text"] == text
    assert dob["NormalizedValue"] == {"Value": f"{iso}T00:00:00", "ValueType": "Date"}


def test_glued_label_and_value_are_split_into_key_and_value_words() -> None:
    # GIVEN lines where OCR dropped the space after the label's colon or hash
    member = line("Member ID:11-2234-10190", 0.085, 0.318, 0.408, 0.363)
    invoice = line("Invoice#23-AUK9909", 0.1, 0.5, 0.4, 0.54)
    clock = line("Opened 10:30", 0.1, 0.6, 0.4, 0.64)
    glued = member.words[1]
    p = page(member, invoice, clock)
    # WHEN key/value pairs are derived
    pairs = {kv.key_text: kv for kv in forms.key_values(p)}
    # THEN the label is the key and the rest the value
    assert pairs["Member ID:"].value_text == "11-2234-10190"
    assert pairs["Invoice#"].value_text == "23-AUK9909"
    # AND the page's words are split too, the value keeping the glued word's id
    assert [w.text for w in member.words] == ["Member", "ID:", "11-2234-10190"]
    assert member.words[2].id == glued.id and member.words[1].box.right <= member.words[2].box.left + 1e-9
    # AND a time is not a label glued to a value
    assert clock.text == "Opened 10:30" and not any(kv.key_text.startswith("Opened") for kv in pairs.values())


def insurance_card() -> Page:
    return page(
        line("Group Insurance of Community", 0.136, 0.147, 0.570, 0.213),
        line("A m erica IPlan", 0.306, 0.193, 0.501, 0.235),
        line("Health Plan (80840)", 0.082, 0.254, 0.269, 0.297),
        line("911-87726-04", 0.306, 0.233, 0.521, 0.281),
        line("Member ID:11-2234-10190", 0.085, 0.318, 0.408, 0.363, 97.0),
        line("Group Number:", 0.516, 0.303, 0.754, 0.350, 95.0),
        line("AAAAA", 0.741, 0.299, 0.842, 0.341, 92.0),
        line("Member.", 0.084, 0.379, 0.196, 0.419, 98.0),
        line("Payer ID:87726", 0.558, 0.384, 0.751, 0.435, 98.0),
        line("JOHN DOE", 0.087, 0.435, 0.221, 0.479, 96.0),
        line("PCP Name:MATEO JACKSON,PhD", 0.087, 0.500, 0.448, 0.544),
        line("Rx Bin:", 0.592, 0.542, 0.677, 0.579),
        line("610494", 0.715, 0.536, 0.801, 0.576),
    )


def answers(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    index = {b["Id"]: b for b in found}
    return {b["Query"]["Alias"]: index[b["Relationships"][0]["Ids"][0]]
            for b in found if b["BlockType"] == "QUERY" and "Relationships" in b}


def test_insurance_card_queries() -> None:
    # GIVEN the insurance card's lines and docpipe's insurance queries
    # WHEN AnalyzeDocument answers them
    found = blocks.analyze_page(insurance_card(), {"QUERIES", "FORMS"}, INSURANCE_QUERIES, identity.ALL_LABELS)
    result = answers(found)
    # THEN the answers are what the card prints, including the name under "Member."
    assert {alias: r["Text"] for alias, r in result.items()} == {
        "member_id": "11-2234-10190", "group_number": "AAAAA", "insured_name": "JOHN DOE"}
    # AND what the card does not print gets no ANSWER (policy number, insurer, dates, premium)
    assert sum(b["BlockType"] == "QUERY" for b in found) == len(INSURANCE_QUERIES)
    # AND a name found only because the question named its label, under it, is less sure than
    # a value after "Label:"
    assert result["insured_name"]["Confidence"] < result["member_id"]["Confidence"]
    # AND the question's hint does not leak into FORMS: "Member." has no colon, so it is no key there
    index = {b["Id"]: b for b in found}
    keys = [" ".join(index[i]["Text"] for r in b["Relationships"] if r["Type"] == "CHILD" for i in r["Ids"])
            for b in found if b["BlockType"] == "KEY_VALUE_SET" and b["EntityTypes"] == ["KEY"]]
    assert "Member ID:" in keys and "Member." not in keys
    # AND every relationship points at a block in the response (the split words included)
    assert all(i in index for b in found for r in b.get("Relationships", []) for i in r["Ids"])


def test_query_needs_a_value_of_the_kind_asked_and_the_subject_named() -> None:
    # GIVEN a card with a member's name, a bare number and a dose's lot number
    p = page(line("Member:", 0.1, 0.1, 0.2, 0.13), line("JOHN DOE", 0.25, 0.1, 0.4, 0.13),
             line("Number:", 0.1, 0.2, 0.2, 0.23), line("4471", 0.25, 0.2, 0.4, 0.23),
             line("1st Dose:", 0.1, 0.3, 0.2, 0.33), line("AA1234", 0.25, 0.3, 0.4, 0.33))
    pairs = forms.key_values(p)
    # WHEN questions are matched against its keys
    # THEN an ID is not a name, a policy number is not just any number, and a key naming only what
    # the question qualifies ("of the 1st dose") does not say who the manufacturer is
    assert forms.answer("What is the member ID?", pairs) is None
    assert forms.answer("What is the policy number?", pairs) is None
    assert forms.answer("Who is the manufacturer of the 1st dose?", pairs) is None
    # AND the name question gets the name
    named = forms.answer("What is the name of the insured or member?", pairs)
    assert named is not None and [w.text for w in named.words] == ["JOHN", "DOE"]
