"""Write a small, learnable multi-turn response-selection dataset in the Ubuntu / Douban text layout.

    python make_demo_data.py --out_dir data/demo                    # Ubuntu layout (true response first)
    python make_demo_data.py --out_dir data/douban --dataset douban # Douban: 0-2 true responses anywhere

Each dialogue is about one software package (the entity), named in ONE earlier turn (2 to 4 turns
before the last) together with words of its topic (sound, network, display, ...); the other turns are
chit-chat, and the last utterance is a generic follow-up ("so how do i fix it now ?"). The true
response names the package and words of its topic. So the right response depends on a turn that is
not the last one. Every context has false candidates of three kinds:
  - hard, same topic: a true response of another package of the same topic;
  - hard, overlap: the last utterance's own words around another package (word overlap with the last
    utterance ranks these first);
  - random: the true response of another dialogue.
Some contexts are longer than the demo's --max_turn_num 5 and some turns longer than 12 words, so
truncation is exercised (the entity turn is always within the last 5 turns).

Files: vocab.txt (`word<TAB>id`, ids from 1), train.txt (one true and one false line per dialogue, as
the Ubuntu training set), dev.txt and test.txt (10 lines per context).
"""
import argparse
import os
import random

TOPICS = {
    "sound": ["audio", "speakers", "volume", "mute", "alsa", "pulseaudio", "headphones", "mic"],
    "network": ["wifi", "ethernet", "dns", "router", "ping", "ip", "connection", "proxy"],
    "display": ["screen", "resolution", "monitor", "driver", "xorg", "nvidia", "brightness", "refresh"],
    "disk": ["partition", "mount", "fstab", "ext4", "usb", "format", "gparted", "swap"],
    "install": ["apt", "repository", "dependency", "ppa", "dpkg", "upgrade", "package", "source"],
    "boot": ["grub", "kernel", "bios", "uefi", "startup", "recovery", "initramfs", "splash"],
}
PACKAGES = {
    "sound": ["vlc", "audacity", "rhythmbox", "amarok", "banshee", "mplayer"],
    "network": ["networkmanager", "wicd", "openssh", "samba", "squid", "iptables"],
    "display": ["compiz", "gnome", "kde", "xfce", "unity", "lightdm"],
    "disk": ["ntfs3g", "lvm", "mdadm", "rsync", "testdisk", "duplicity"],
    "install": ["synaptic", "aptitude", "gdebi", "snapd", "flatpak", "alien"],
    "boot": ["grub2", "plymouth", "systemd", "upstart", "lilo", "refind"],
}
CHAT = ["hi", "hello", "anyone", "here", "thanks", "ok", "yes", "no", "sure", "well", "hmm", "cool",
        "sorry", "again", "today", "still", "maybe", "really", "great", "lol", "brb", "yeah"]
PROBLEM = ["my", "is", "broken", "after", "the", "not", "working", "since", "stopped", "with", "problem"]
QUESTIONS = ["so how do i fix it now ?", "what should i do next ?", "any idea how to solve this ?",
             "how can i get it working again ?", "what do i do now ?", "is there a fix for that ?",
             "how do i repair it ?", "can you tell me what to do ?"]
ANSWER = ["try", "reinstall", "reconfigure", "check", "restart", "purge", "then", "and", "run", "edit",
          "enable", "set", "config", "log"]
ENTITY_TURN_BACK = (2, 4)  # the entity turn, counted back from the last utterance (which is 1)


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.entities = [(topic, p) for topic, names in PACKAGES.items() for p in names]

    def words(self, pool, lo, hi):
        return [self.rng.choice(pool) for _ in range(self.rng.randint(lo, hi))]

    def dialogue(self):
        """(turns, entity, topic)."""
        topic, entity = self.rng.choice(self.entities)
        n = self.rng.randint(3, 7)
        back = self.rng.randint(*ENTITY_TURN_BACK)
        back = min(back, n - 1)
        turns = [" ".join(self.words(CHAT, 2, 6)) for _ in range(n - 1)]
        problem = self.words(PROBLEM, 2, 4) + [entity] + self.words(TOPICS[topic], 2, 3) + self.words(PROBLEM, 1, 3)
        if self.rng.random() < 0.1:  # a long turn: beyond the demo's 12 words (kept: its last words)
            problem = self.words(CHAT, 8, 12) + problem
        turns[n - 1 - back] = " ".join(problem)
        turns.append(self.rng.choice(QUESTIONS))
        return turns, entity, topic

    def answer(self, entity, topic):
        words = self.words(ANSWER, 1, 3) + [entity] + self.words(TOPICS[topic], 1, 2) + self.words(ANSWER, 1, 3)
        return " ".join(words)

    def other_entity(self, topic, entity, same_topic):
        pool = [e for t, e in self.entities if e != entity and (t == topic) == same_topic]
        other = self.rng.choice(pool)
        return other, next(t for t, e in self.entities if e == other)

    def negative(self, turns, entity, topic, kind):
        if kind == "same_topic":
            other, _ = self.other_entity(topic, entity, True)
            return self.answer(other, topic)
        if kind == "overlap":
            other, other_topic = self.other_entity(topic, entity, False)
            words = turns[-1].split()
            return " ".join(words[:-1] + [other] + self.words(TOPICS[other_topic], 0, 1))
        other, other_topic = self.other_entity(topic, entity, False)
        return self.answer(other, other_topic)


def line(label, turns, response):
    return "\t".join([str(label), *turns, response])


def make_demo_data(out_dir, num_train=3000, num_dev=150, num_test=300, dataset="ubuntu", seed=0):
    """Write the files; returns out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    gen = Generator(seed)
    vocab = sorted({w for pool in (CHAT, PROBLEM, ANSWER) for w in pool}
                   | {w for q in QUESTIONS for w in q.split()}
                   | {w for ws in TOPICS.values() for w in ws} | {e for _, e in gen.entities})
    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"{w}\t{i}\n" for i, w in enumerate(vocab, 1))
    lines = []
    for _ in range(num_train):
        turns, entity, topic = gen.dialogue()
        lines.append(line(1, turns, gen.answer(entity, topic)))
        kind = gen.rng.choice(["same_topic", "overlap", "random"])
        lines.append(line(0, turns, gen.negative(turns, entity, topic, kind)))
    with open(os.path.join(out_dir, "train.txt"), "w", encoding="utf-8") as f:
        f.writelines(x + "\n" for x in lines)
    for split, count in (("dev", num_dev), ("test", num_test)):
        lines = []
        for _ in range(count):
            turns, entity, topic = gen.dialogue()
            kinds = ["same_topic"] * 3 + ["overlap"] * 3 + ["random"] * 3
            gen.rng.shuffle(kinds)
            group = [(1, gen.answer(entity, topic))] + [(0, gen.negative(turns, entity, topic, k)) for k in kinds]
            if dataset == "douban":  # 0, 1 or 2 true responses, anywhere in the group
                positives = gen.rng.choice([0, 1, 1, 2])
                extra = [(0, gen.negative(turns, entity, topic, "random"))]
                group = [(1, gen.answer(entity, topic)) for _ in range(positives)] + (group[1:] + extra)[:GROUP - positives]
                gen.rng.shuffle(group)
            lines += [line(label, turns, response) for label, response in group]
        with open(os.path.join(out_dir, f"{split}.txt"), "w", encoding="utf-8") as f:
            f.writelines(x + "\n" for x in lines)
    return out_dir


GROUP = 10


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write the files (default: %(default)s)")
    parser.add_argument("--dataset", choices=["ubuntu", "douban"], default="ubuntu",
                        help="the candidates' layout of dev/test (default: %(default)s)")
    parser.add_argument("--num_train", type=int, default=3000, help="training dialogues, 2 lines each (default: %(default)s)")
    parser.add_argument("--num_dev", type=int, default=150, help="dev contexts, 10 lines each (default: %(default)s)")
    parser.add_argument("--num_test", type=int, default=300, help="test contexts, 10 lines each (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.num_train, args.num_dev, args.num_test, args.dataset, args.seed)
    print(f"wrote {args.out_dir}/vocab.txt, train.txt, dev.txt, test.txt ({args.dataset} layout)")


if __name__ == "__main__":
    main()
