# Builds tests/data/tokenizer/corpus.json (deterministic: fixed seed). Run from the repository root:
#   python3 tests/data/tokenizer/make_corpus.py
import json, random
rnd = random.Random(20261126)
C = []
def add(*xs):
    for x in xs: C.append(x)

# Latin with accents
add("Héllo wörld", "Ça va très bien, merci !", "Größenordnung über Straße", "¿Dónde está la biblioteca?",
    "Tiếng Việt có dấu: người, được, những", "Zażółć gęślą jaźń", "İstanbul'da ışık, Ağaç", "naïve café résumé coöperate",
    "Ærøskøbing og Ålborg", "Þetta er íslenska", "façade — déjà vu… «citation»", "ÀÁÂÃÄÅàáâãäå ÈÉÊËèéêë",
    "Crème brûlée & piña colada", "Les élèves n'ont pas fini l'exercice.", "Dziękuję bardzo", "Ångström",
    "e\u0301te\u0301 (decomposed accents)", "A\u030a and \u00c5", "ﬁnancial ﬂow (ligatures)", "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "ǅemal ǈubljana", "straße STRASSE", "ΣΊΣΥΦΟΣ σίσυφος", "Ἀθῆναι")
# CJK
add("你好，世界！", "我们今天去公园散步吧。", "中华人民共和国成立于1949年", "日本語のテキストです。", "ひらがなとカタカナ、漢字",
    "東京都渋谷区", "カタカナーのテスト", "한국어 텍스트입니다.", "안녕하세요, 세계!", "混合English和中文text",
    "「引用」と『二重引用』", "１２３４５　全角スペース", "ｶﾀｶﾅ半角", "龘靐齉爩", "㐀㐁㐂 (CJK ext A)", "𠀀𠀁𠀂 (CJK ext B)",
    "Hangul jamo: \u1100\u1161\u11a8", "谢谢你的帮助，我很感激。", "这是一个测试句子，包含标点符号：；？！",
    "今日は良い天気ですね。明日も晴れるでしょう。")
# Other scripts
add("مرحبا بالعالم", "اللغة العربية جميلة جداً", "السَّلَامُ عَلَيْكُمْ", "٠١٢٣٤٥٦٧٨٩ أرقام عربية",
    "שלום עולם", "עברית: בְּרֵאשִׁית", "नमस्ते दुनिया", "हिन्दी में लिखा गया वाक्य।", "क्षत्रिय ज्ञान श्री",
    "আমি বাংলায় গান গাই", "ਪੰਜਾਬੀ", "தமிழ் மொழி", "తెలుగు", "ಕನ್ನಡ", "മലയാളം", "ภาษาไทยไม่มีช่องว่าง",
    "ພາສາລາວ", "ខ្មែរ", "မြန်မာ", "ქართული ენა", "Հայերեն", "አማርኛ", "Привет, мир!", "Съешь же ещё этих мягких французских булок",
    "Україна: ґ, є, ї, і", "Беларуская мова: ў", "Ελληνικά: Καλημέρα κόσμε", "Монгол хэл", "ᚠᚢᚦᚨᚱᚲ runes", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 𝟙𝟚𝟛")
# Emoji
add("😀", "👍🏽", "👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈", "🇫🇷🇯🇵🇺🇸", "1️⃣ #️⃣ *️⃣", "❤️‍🔥", "🧑🏿‍🤝‍🧑🏻",
    "I love 🍕 and 🍣!", "😂😂😂😂😂", "emoji at end 🎉", "🎉 emoji at start", "mix: ✅❌⚠️ℹ️", "👁️‍🗨️",
    "🐈‍⬛ black cat", "☕️ coffee", "🫠🫡🫶", "✈️🚀🛸", "🙋‍♀️🙋‍♂️")
# Code, tabs, whitespace
add("def foo(x):\n\treturn x * 2\n", "int main() {\n    printf(\"hello\\n\");\n    return 0;\n}\n",
    "for (let i = 0; i < n; ++i) {\n\t\tsum += a[i];\n\t}", "if x == 1:\n        pass\n    else:\n        raise ValueError('bad')",
    "    leading four spaces", "trailing spaces    ", "a" + " " * 40 + "b", "\t\t\tthree tabs", "mixed \t \t whitespace",
    "line1\r\nline2\r\nline3", "\n\n\nthree newlines", "para1\n\n\n\n\npara2", " ", "  ", "\t", "\n", "\r\n", " \n ",
    "x" + "\n" * 20 + "y", " " * 100, "\t" * 33, "SELECT * FROM users WHERE id = 42;", "<div class=\"a\">text</div>",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}", "#include <vector>\n#include <string>", "$ ls -la | grep '^d' > out.txt",
    "a->b; c::d; e=>f; g!=h; i<=j; k>=l; m&&n||o", "x+=1;y-=2;z*=3;w/=4;", "// comment\n/* block */", "@decorator\nclass A(B):",
    "https://example.com/path?query=1&b=2#frag", "user@example.com", "C:\\Users\\name\\file.txt", "~/.config/app/settings.json",
    "regex: ^[a-z]+\\d{2,3}$", "`backticks` and ```fenced```", "    \n    \n", "\u00a0non-breaking\u00a0space", "ideographic\u3000space",
    "zero\u200bwidth\u200bspace", "\ufeffBOM at start", "next\u0085line", "line\u2028separator", "em\u2003space", "tab\tin\tmiddle")
# Numbers
for n in [0, 7, 42, 123, 1234, 12345, 123456, 1234567, 12345678, 123456789, 1234567890, 98765432109876, 3141592653589793238]:
    add(str(n))
add("3.14159", "-273.15", "1,234,567.89", "1e-10", "6.022e23", "0x1F4A", "0b101010", "1/2 + 3/4 = 5/4", "100%", "$19.99",
    "€1.234,56", "12:30:45", "2026-11-26", "+1 (555) 123-4567", "v1.2.3-beta.4", "007", "0000000001", "1st 2nd 3rd 4th",
    "١٢٣ and ۱۲۳ and १२३", "Ⅻ ⅻ ½ ¾ ² ³", "①②③", "room 101, floor 12, building 7")
# Contractions and casing
add("I'm here", "don't", "they'll", "WE'RE", "it's", "I'D", "You've", "She'S", "isn't it?", "y'all'd've", "'s", "'tis",
    "rock 'n' roll", "O'Neil's", "it’s (curly)", "HELLO WORLD", "hello world", "Hello World", "hELLO wORLD", "camelCaseWord",
    "snake_case_word", "kebab-case-word", "SCREAMING_SNAKE", "McDonald's", "e.g. i.e. etc.", "Mr. Smith went to Washington.",
    "The quick brown fox jumps over the lazy dog.", "Hello , world . How are you ? Fine !", "He said ' hi ' to me", "a ' b",
    "Don ' t", "won't can't shouldn't")
# Special-token text
for t in ["<s>", "</s>", "<unk>", "<pad>", "<bos>", "<eos>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>",
          "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_5|>", "<|im_start|>", "<|im_end|>",
          "<|endoftext|>", "<think>", "</think>", "<tool_call>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>",
          "<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|return|>", "<|startoftext|>",
          "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<｜tool▁sep｜>", "<0x41>", "[INST]", "<mask>"]:
    add(t, "x" + t + "y", " " + t + " ", t + t)
add("<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", "<s>[INST] What is 2+2? [/INST]", "<|start|>user<|message|>hi<|end|>",
    "<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>", "<|im_sta", "<|im_start", "<<s>>", "</s></s></s>", "<s> <s>", "<think>\nreasoning\n</think>\n\nanswer",
    "<|reserved_special_token_250|><|reserved_special_token_249|>", "<unused0><unused99>", "<start_of_image><end_of_image>", "<0xFF><0x00>")
# Punctuation and symbols
add("!!!", "???", "...", "…", "—", "–", "--", "---", "***", "___", "###", "@@@", "~~~", "^^^", "|||", "\\\\", "///", "(((nested)))",
    "[[brackets]]", "{{{braces}}}", "«»‹›„“”‘’", "¡¿", "§¶†‡•", "©®™", "°±×÷", "←↑→↓↔", "∀∃∈∉∑∏∫√∞≈≠≤≥", "αβγδε", "ℕℤℚℝℂ",
    "♠♣♥♦", "★☆✓✗", "•◦▪▫", "⌘⌥⇧⌃", "\x00nul", "bell\x07", "esc\x1b[0m", "del\x7f", "\x01\x02\x03", "ﷺ", "﷽")

# Pseudo-random mixes from a pool (deterministic)
pool = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + list(" \t\n.,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`") + \
    list("éèêëàâäôöûüçñßøåæœ") + list("你好世界中文字") + list("日本語かなカナ") + list("한국어") + list("абвгдеёжзий") + \
    list("مرحبا") + list("नमस्ते") + ["😀", "👍🏽", "👨‍👩‍👧", "🇩🇪", "\u200d", "\u0301", "  ", "   ", "\n\n", "<s>", "<|im_end|>", "'s", "'ll", "123", "4567"]
for i in range(200):
    n = rnd.randint(1, 60)
    C.append("".join(rnd.choice(pool) for _ in range(n)))
# Words from several scripts joined
words = ["the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "Mensch", "Haus", "maison", "casa", "дом", "домой",
         "家", "房子", "집", "बाड़ी", "منزل", "σπίτι", "talo", "hus", "dom", "ev", "nhà", "บ้าน", "tokenization", "antidisestablishmentarianism",
         "pneumonoultramicroscopicsilicovolcanoconiosis", "Donaudampfschifffahrtsgesellschaftskapitän", "supercalifragilisticexpialidocious"]
for i in range(100):
    n = rnd.randint(2, 25)
    seps = [" ", " ", " ", "  ", "\n", ", ", ". ", "\t", "-", "_", ""]
    C.append("".join(rnd.choice(words) + rnd.choice(seps) for _ in range(n)).rstrip())
# Long paragraphs
para = ("Once upon a time, in a land far away, there lived a curious engineer who wanted to build a tokenizer "
        "that matched every reference implementation exactly. She tested Latin, Кириллица, 中文, العربية, हिन्दी and emoji 🎉 "
        "with numbers like 3.14159 and 1234567890, code like `for (int i = 0; i < n; ++i)` and    runs   of    spaces.\n\n")
add(para, para * 5, (para + "\t\t\n") * 3)
C.append("")
seen = set(); out = []
for s in C:
    if s not in seen:
        seen.add(s); out.append(s)
print(len(out))
json.dump(out, open("tests/data/tokenizer/corpus.json", "w"), ensure_ascii=False, indent=0)
