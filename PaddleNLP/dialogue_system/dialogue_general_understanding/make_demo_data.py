"""Write a small, learnable DGU dataset in the release's on-disk layout (deterministic, seeded):

    OUT/vocab.txt                      WordPiece vocabulary ([PAD] 0, [unused0] 1 as in BERT's, then words)
    OUT/{udc,atis_intent,atis_slot,dstc2,swda,mrda}/{train,dev,test}.txt

What makes each task learnable, and what a trivial baseline gets:
- atis_intent / atis_slot: flight-booking requests from templates; the intent follows the template, the
  slots follow the words ("from X" is a departure city, "to X" an arrival, multi-word cities carry I- tags).
- udc: help-desk dialogues whose problem (wifi, sound, printer, ...) is named in the context, often not in
  the last utterance; the right response talks about that device, the 9 wrong candidates about others.
- dstc2: restaurant-search dialogues whose state (food, area, price) is spoken turn by turn, including
  changes of mind ("actually i would rather have X"), so the state needs the whole history.
- swda / mrda: dialogue acts signalled by cue words, with "yeah" / "yes" an answer after a question and an
  agreement or backchannel after a statement: the act of those depends on the context window.
"""
import argparse
import os
import re

import numpy as np

SPECIAL = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CITIES = ["boston", "denver", "dallas", "atlanta", "pittsburgh", "baltimore", "new york", "san francisco",
          "salt lake city", "los angeles", "washington", "philadelphia"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CODES = ["qx", "yn", "fa", "bh", "ap"]
# ATIS slot label ids (0 is O, as the release's padding label)
SLOT = {"O": 0, "B-from": 1, "I-from": 2, "B-to": 3, "I-to": 4, "B-day": 5, "B-num": 6, "B-code": 7,
        "B-city": 8, "I-city": 9}
# intent id: templates; {from}/{to}/{city} are cities, {day}, {num}, {code}
INTENTS = {
    0: ["show me flights from {from} to {to}", "i want to fly from {from} to {to} on {day}",
        "list flights to {to} leaving {day}", "are there any flights from {from} to {to}"],
    1: ["how much is a ticket from {from} to {to}", "what is the cheapest fare to {to}",
        "give me the fares from {from} to {to} on {day}"],
    2: ["which airlines fly from {from} to {to}", "what airline serves {city}"],
    3: ["what ground transportation is there in {city}", "is there a bus from the airport in {city}"],
    4: ["what does {code} mean", "explain the fare code {code}"],
    5: ["what time does the flight from {from} to {to} leave", "when does flight {num} arrive in {to}"],
}
INTENT_WEIGHTS = [0.35, 0.13, 0.13, 0.13, 0.13, 0.13]
DEVICES = ["wifi", "sound", "printer", "keyboard", "mouse", "screen", "bluetooth", "webcam", "touchpad",
           "microphone"]
UDC_OPEN = ["hi all", "hello everyone", "hey there", "good morning"]
UDC_PROBLEM = ["my {d} stopped working after the upgrade", "the {d} is broken since yesterday",
               "i cannot get the {d} to work on ubuntu", "anyone know why my {d} is dead"]
UDC_MIDDLE = ["i already rebooted twice", "it worked fine last week", "i am on the latest release",
              "any ideas", "please help"]
UDC_REPLY = ["did you reinstall the {d} driver", "check the {d} settings in the control panel",
             "run lsmod and look for the {d} module", "your {d} needs the restricted driver"]
FOODS = ["italian", "chinese", "indian", "french", "thai", "korean", "spanish", "british"]
AREAS = ["north", "south", "east", "west", "centre"]
PRICES = ["cheap", "moderate", "expensive"]
SYSTEM = ["how can i help you", "what kind of food would you like", "which part of town",
          "what price range", "anything else"]
TOPICS = ["music", "movies", "baseball", "gardening", "taxes", "cooking", "camping", "cars"]
ADJS = ["great", "expensive", "boring", "fun", "important", "hard"]
VERBS = ["like", "watch", "follow", "enjoy", "do"]


def fill(template, rng, words_only=False):
    """(words, slot labels) of a template with its placeholders drawn."""
    words, labels = [], []
    for token in template.split():
        if token.startswith("{"):
            kind = token[1:-1]
            if kind in ("from", "to", "city"):
                parts = CITIES[rng.integers(len(CITIES))].split()
                tag = {"from": "from", "to": "to", "city": "city"}[kind]
                words += parts
                labels += [f"B-{tag}"] + [f"I-{tag}"] * (len(parts) - 1)
            else:
                value = {"day": DAYS, "code": CODES}.get(kind)
                words.append(value[rng.integers(len(value))] if value else str(rng.integers(100, 2000)))
                labels.append({"day": "B-day", "num": "B-num", "code": "B-code"}[kind])
        else:
            words.append(token)
            labels.append("O")
    return words, [SLOT[l] for l in labels]


def atis(rng, n):
    intents, slots = [], []
    for _ in range(n):
        intent = int(rng.choice(len(INTENTS), p=INTENT_WEIGHTS))
        templates = INTENTS[intent]
        words, labels = fill(templates[rng.integers(len(templates))], rng)
        intents.append(f"{intent}\t{' '.join(words)}")
        slots.append(f"{' '.join(words)}\t{' '.join(map(str, labels))}")
    return intents, slots


def udc_context(rng, device):
    turns = [UDC_OPEN[rng.integers(len(UDC_OPEN))], UDC_PROBLEM[rng.integers(len(UDC_PROBLEM))].format(d=device)]
    for _ in range(rng.integers(0, 3)):  # the problem is often not the last utterance
        turns.append(UDC_MIDDLE[rng.integers(len(UDC_MIDDLE))])
    return turns


def udc_reply(rng, device):
    return UDC_REPLY[rng.integers(len(UDC_REPLY))].format(d=device)


def udc(rng, n, groups):
    """Training: a right and a wrong response per context; evaluation: groups of 10, the right one first."""
    lines = []
    for _ in range(n):
        device, other = rng.choice(len(DEVICES), 2, replace=False)
        context = udc_context(rng, DEVICES[device])
        pair = [(1, udc_reply(rng, DEVICES[device])), (0, udc_reply(rng, DEVICES[other]))]
        for label, reply in (pair if rng.random() < 0.5 else pair[::-1]):
            lines.append("\t".join([str(label), *context, reply]))
    if not groups:
        return lines
    lines = []
    for _ in range(n):
        devices = rng.choice(len(DEVICES), 10, replace=False)
        context = udc_context(rng, DEVICES[devices[0]])
        for i, d in enumerate(devices):
            lines.append("\t".join([str(int(i == 0)), *context, udc_reply(rng, DEVICES[d])]))
    return lines


def dstc2(rng, dialogues, first_id):
    lines = []
    for k in range(dialogues):
        state = {}
        for t in range(rng.integers(2, 6)):
            move = rng.integers(5) if t else 0  # the caller opens with the food
            if move == 0 or (move == 4 and "food" not in state):
                state["food"] = int(rng.integers(len(FOODS)))
                user = f"i want {FOODS[state['food']]} food"
            elif move == 1:
                state["area"] = int(rng.integers(len(AREAS)))
                user = f"in the {AREAS[state['area']]} part of town"
            elif move == 2:
                state["price"] = int(rng.integers(len(PRICES)))
                user = f"something {PRICES[state['price']]} please"
            elif move == 3:
                user = ["thank you", "what is the address", "is there anything else"][rng.integers(3)]
            else:
                state["food"] = int(rng.integers(len(FOODS)))
                user = f"actually i would rather have {FOODS[state['food']]}"
            labels = sorted([state[s] + off for s, off in (("food", 0), ("area", 8), ("price", 13)) if s in state])
            system = SYSTEM[rng.integers(len(SYSTEM))]
            lines.append(f"{first_id + k}\t{system}\1{user}\t{' '.join(map(str, labels))}")
    return lines


def dialogue_acts(rng, dialogues, first_id, mrda):
    """swda acts: 0 statement, 1 backchannel, 2 yes-no question, 3 wh-question, 4 yes answer, 5 agree,
    6 opinion; mrda acts: 0 statement, 1 backchannel, 2 floor holder, 3 question, 4 disruption."""
    lines = []
    for k in range(dialogues):
        previous = None  # the act of the utterance before
        for t in range(rng.integers(6, 12)):
            caller = "AB"[t % 2]
            topic, adj, verb = (x[rng.integers(len(x))] for x in (TOPICS, ADJS, VERBS))
            if previous in ("yq", "wq") and rng.random() < 0.8:
                # an answer: "yeah" / "yes" after a question
                text = ["yeah", "yes", "yeah i do"][rng.integers(3)] if previous == "yq" else f"i {verb} {topic}"
                kind = "answer" if previous == "yq" else "statement"
            else:
                kind = ["statement", "statement", "back", "yq", "wq", "opinion", "agree", "floor"][rng.integers(8)]
                if kind == "statement":
                    text = f"we {verb} {topic} every week"
                elif kind == "back":
                    text = ["uh-huh", "right", "yeah"][rng.integers(3)]
                elif kind == "yq":
                    text = f"do you {verb} {topic}"
                elif kind == "wq":
                    text = f"what kind of {topic} do you {verb}"
                elif kind == "opinion":
                    text = f"i think {topic} is {adj}"
                elif kind == "floor":
                    text = ["so um", "well", "i mean the"][rng.integers(3)]
                else:
                    text = ["yeah", "yes", "that is right"][rng.integers(3)]
            if mrda:
                label = {"statement": 0, "opinion": 0, "answer": 0, "back": 1, "agree": 1, "floor": 2,
                         "yq": 3, "wq": 3}[kind] if not (kind == "floor" and text == "i mean the") else 4
            else:
                label = {"statement": 0, "back": 1, "yq": 2, "wq": 3, "answer": 4, "agree": 5, "opinion": 6,
                         "floor": 0}[kind]
            lines.append(f"{first_id + k}\t{label}\t{caller}\t{text}")
            previous = kind if kind in ("yq", "wq") else None
    return lines


def vocabulary(texts):
    """Every word of the files is a whole-word token (the text is lower-case ASCII: BERT's basic
    tokenizer splits it at spaces and punctuation, as this does)."""
    words = set()
    for text in texts:
        for field in text.replace("\1", "\t").split("\t"):
            words.update(re.findall(r"\w+|[^\w\s]", field.lower()))
    return SPECIAL + sorted(words - set(SPECIAL))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write the dataset (default data/demo)")
    parser.add_argument("--num_train", type=int, default=800,
                        help="training examples per task (dialogues: about this many turns; default 800)")
    parser.add_argument("--num_eval", type=int, default=200,
                        help="dev and test examples per task (udc: this / 10 groups of 10 candidates; default 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    files = {}
    for split in ("train", "dev", "test"):
        n = args.num_train if split == "train" else args.num_eval
        intents, slots = atis(rng, n)
        files[("atis_intent", split)], files[("atis_slot", split)] = intents, slots
        files[("udc", split)] = udc(rng, n if split == "train" else max(n // 10, 2), groups=split != "train")
        first = {"train": 0, "dev": 100000, "test": 200000}[split]
        files[("dstc2", split)] = dstc2(rng, max(n // 3, 4), first)
        files[("swda", split)] = dialogue_acts(rng, max(n // 8, 4), first, mrda=False)
        files[("mrda", split)] = dialogue_acts(rng, max(n // 8, 4), first, mrda=True)
    os.makedirs(args.out_dir, exist_ok=True)
    for (task, split), lines in files.items():
        os.makedirs(os.path.join(args.out_dir, task), exist_ok=True)
        with open(os.path.join(args.out_dir, task, f"{split}.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocabulary([l for lines in files.values() for l in lines])) + "\n")
    print(f"wrote {args.out_dir}: " + ", ".join(f"{t} {len(files[(t, 'train')])}/{len(files[(t, 'dev')])}/"
                                                f"{len(files[(t, 'test')])}" for t in
                                                ("udc", "atis_intent", "atis_slot", "dstc2", "swda", "mrda")))


if __name__ == "__main__":
    main()
