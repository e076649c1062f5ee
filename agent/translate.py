"""A small offline Korean -> English glossary for visual prompts, plus romanisation.

The offline planner cannot translate sentences; it translates the *things* in a scene
(nouns, a few actions and qualities) by dictionary form, which is what a text-to-video
prompt needs. Proper nouns without an entry are romanised (명동 -> Myeongdong).
"""

from __future__ import annotations

# Nouns (NNG/NNP lemmas) -> English.
NOUNS: dict[str, str] = {
    # nature, weather, sky
    "바다": "sea", "하늘": "sky", "구름": "clouds", "비": "rain", "눈": "snow", "바람": "wind",
    "태풍": "typhoon", "폭풍": "storm", "번개": "lightning", "천둥": "thunder", "무지개": "rainbow",
    "해": "sun", "태양": "sun", "달": "moon", "별": "stars", "우주": "outer space", "행성": "planet",
    "산": "mountain", "숲": "forest", "나무": "tree", "꽃": "flowers", "벚꽃": "cherry blossoms",
    "장미": "roses", "풀": "grass", "잔디": "lawn", "강": "river", "호수": "lake", "폭포": "waterfall",
    "파도": "waves", "해변": "beach", "모래": "sand", "섬": "island", "절벽": "cliff", "동굴": "cave",
    "사막": "desert", "들판": "field", "밭": "field", "논": "rice paddy", "물": "water", "불": "fire",
    "얼음": "ice", "안개": "fog", "노을": "sunset", "새벽": "dawn", "밤": "night", "아침": "morning",
    "저녁": "evening", "낮": "daytime", "어둠": "darkness", "빛": "light", "그림자": "shadow",
    "감": "persimmons", "감나무": "persimmon tree", "사과": "apple", "열매": "fruit", "돌": "stones",
    "바위": "rock", "흙": "soil", "연못": "pond", "계곡": "valley", "봄": "spring", "여름": "summer",
    "가을": "autumn", "겨울": "winter", "홍수": "flood", "지진": "earthquake", "화산": "volcano",
    "물속": "underwater", "수면": "water surface", "해일": "tidal wave", "쓰나미": "tsunami",
    # animals and creatures
    "고래": "whale", "물고기": "fish", "상어": "shark", "새": "bird", "까마귀": "crow",
    "비둘기": "pigeon", "나비": "butterfly", "고양이": "cat", "개": "dog", "강아지": "puppy",
    "호랑이": "tiger", "사자": "lion", "곰": "bear", "늑대": "wolf", "여우": "fox", "뱀": "snake",
    "용": "dragon", "토끼": "rabbit", "거미": "spider", "벌레": "insects", "쥐": "rat",
    "돼지": "pig", "소": "cow", "닭": "chicken", "오리": "duck", "거북이": "turtle", "문어": "octopus",
    "해파리": "jellyfish", "사슴": "deer", "괴물": "monster", "귀신": "ghost", "유령": "ghost",
    "좀비": "zombie", "외계인": "alien", "천사": "angel", "악마": "demon", "요정": "fairy",
    "마녀": "witch", "로봇": "robot", "공룡": "dinosaur", "벌": "bees", "개미": "ants",
    # people
    "엄마": "mother", "어머니": "mother", "아빠": "father", "아버지": "father", "부모님": "parents",
    "할머니": "grandmother", "할아버지": "grandfather", "언니": "older sister", "누나": "older sister",
    "오빠": "older brother", "형": "older brother", "동생": "younger sibling", "가족": "family",
    "친구": "friend", "아이": "child", "아기": "baby", "사람": "people", "사람들": "people",
    "남자": "man", "여자": "woman", "소년": "boy", "소녀": "girl", "노인": "old man",
    "선생님": "teacher", "학생": "student", "의사": "doctor", "경찰": "police officer",
    "군인": "soldier", "왕": "king", "공주": "princess", "애인": "lover", "남자친구": "boyfriend",
    "여자친구": "girlfriend", "남편": "husband", "아내": "wife", "동료": "coworker", "상사": "boss",
    "이웃": "neighbor", "낯선사람": "stranger", "군중": "crowd", "연예인": "celebrity",
    "룸메이트": "roommate", "할머니댁": "grandmother's house", "조상": "ancestors", "신": "god",
    # places and buildings
    "집": "house", "시골집": "country house", "고향": "hometown", "방": "room", "부엌": "kitchen",
    "거실": "living room", "화장실": "bathroom", "마당": "yard", "정원": "garden", "지붕": "roof",
    "옥상": "rooftop", "아파트": "apartment building", "건물": "building", "빌딩": "skyscraper",
    "학교": "school", "교실": "classroom", "시험장": "exam hall", "운동장": "schoolyard",
    "도서관": "library", "병원": "hospital", "교회": "church", "절": "temple", "성": "castle",
    "궁전": "palace", "탑": "tower", "다리": "bridge", "거리": "street", "길": "road", "골목": "alley",
    "도시": "city", "마을": "village", "시골": "countryside", "시장": "market", "가게": "shop",
    "카페": "cafe", "식당": "restaurant", "공원": "park", "놀이공원": "amusement park",
    "놀이터": "playground", "지하철": "subway", "지하철역": "subway station", "역": "station",
    "기차역": "train station", "공항": "airport", "항구": "harbor", "회사": "office", "사무실": "office",
    "엘리베이터": "elevator", "계단": "stairs", "복도": "corridor", "문": "door", "창문": "window",
    "벽": "wall", "바닥": "floor", "천장": "ceiling", "지하": "basement", "미로": "maze",
    "터널": "tunnel", "무덤": "grave", "묘지": "cemetery", "장례식": "funeral", "결혼식": "wedding",
    "감옥": "prison", "호텔": "hotel", "수영장": "swimming pool", "목욕탕": "bathhouse",
    "난간": "railing", "시청": "city hall", "광장": "square", "백화점": "department store",
    "극장": "theater", "무대": "stage", "경기장": "stadium", "섬마을": "island village",
    "뱃속": "inside a belly", "비명": "screams", "한복판": "middle",
    # things
    "우산": "umbrella", "시계": "clock", "바늘": "clock hands", "열쇠": "key", "거울": "mirror",
    "편지": "letter", "책": "book", "책상": "desk", "의자": "chair", "침대": "bed", "이불": "blanket",
    "전화": "phone", "휴대폰": "phone", "핸드폰": "phone", "컴퓨터": "computer", "텔레비전": "television",
    "사진": "photograph", "그림": "painting", "문제지": "exam paper", "시험지": "exam paper",
    "백지": "blank paper", "종이": "paper", "연필": "pencil", "가방": "bag", "신발": "shoes", "옷": "clothes",
    "드레스": "dress", "모자": "hat", "반지": "ring", "목걸이": "necklace", "돈": "money",
    "보석": "jewels", "상자": "box", "선물": "gift", "풍선": "balloons", "촛불": "candlelight",
    "초": "candle", "등불": "lantern", "유리병": "glass jar", "병": "bottle", "칼": "knife",
    "총": "gun", "주머니": "pocket", "지도": "map", "배": "boat", "자동차": "car", "차": "car",
    "버스": "bus", "기차": "train", "비행기": "airplane", "자전거": "bicycle", "우주선": "spaceship",
    "엘레베이터": "elevator", "피아노": "piano", "음악": "music", "노래": "song", "춤": "dance",
    "밥": "meal", "음식": "food", "케이크": "cake", "빵": "bread", "과자": "snacks", "차림": "table",
    "안내": "announcement", "방송": "broadcast", "언어": "language", "시험": "exam", "수업": "class",
    "숙제": "homework", "공부": "studying", "여행": "journey", "파티": "party", "축제": "festival",
    "전쟁": "war", "불꽃": "fireworks", "불꽃놀이": "fireworks", "이름": "name", "목소리": "voice",
    "소리": "sound", "손": "hand", "얼굴": "face", "눈물": "tears", "날개": "wings", "꼬리": "tail",
    "그네": "swing", "기억": "memory", "어린시절": "childhood",
    # everyday and abstract things that still make a picture
    "사랑": "love", "영화": "movie", "영화관": "movie theater", "관객": "audience", "택배": "parcel",
    "물건": "belongings", "밴드": "band", "이별": "farewell", "결혼": "wedding", "지구": "planet earth",
    "인간": "human", "오징어": "squid", "모니터": "monitor", "기저귀": "diaper", "애기": "baby",
    "아가": "baby", "계절": "seasons", "세상": "world", "커플": "couple", "우유": "milk", "동물": "animals",
    "죽음": "death", "아저씨": "middle-aged man", "아줌마": "middle-aged woman", "종말": "apocalypse",
    "머리": "head", "머리카락": "hair", "이모": "aunt", "삼촌": "uncle", "반찬": "side dishes",
    "행복": "happiness", "슬픔": "sorrow", "우울": "gloom", "미래": "future", "과거": "past",
    "시간": "time", "인형": "doll", "장난감": "toys", "가면": "mask", "마스크": "mask", "택시": "taxi",
    "트럭": "truck", "배낭": "backpack", "선반": "shelves", "책장": "bookshelf", "빨간색": "red",
    "파란색": "blue", "노란색": "yellow", "검은색": "black", "흰색": "white", "초록색": "green",
    "교복": "school uniform", "군대": "army", "전쟁터": "battlefield", "우물": "well", "시냇물": "stream",
    "골목길": "alley", "횡단보도": "crosswalk", "신호등": "traffic light", "정류장": "bus stop",
    "운전": "driving", "비행": "flight", "낙하산": "parachute", "사다리": "ladder", "밧줄": "rope",
    "촛대": "candlestick", "커튼": "curtains", "카펫": "carpet", "냉장고": "refrigerator", "욕조": "bathtub",
    "수도꼭지": "faucet", "비누": "soap", "이빨": "teeth", "치아": "teeth", "눈동자": "eyes", "심장": "heart",
    "꿈나라": "dreamland", "환상": "fantasy", "마법": "magic", "마법사": "wizard", "보물": "treasure",
    "해적": "pirate", "전사": "warrior", "거인": "giant", "난쟁이": "dwarf",
}

# Verbs and adjectives (dictionary forms from Kiwi, e.g. 날다, 어둡다) -> English.
PREDICATES: dict[str, str] = {
    "날다": "flying", "떨어지다": "falling", "추락하다": "falling", "달리다": "running",
    "뛰다": "running", "걷다": "walking", "헤엄치다": "swimming", "수영하다": "swimming",
    "쫓다": "chasing", "쫓기다": "being chased", "도망치다": "fleeing", "도망가다": "fleeing",
    "숨다": "hiding", "찾다": "searching", "잃다": "lost", "헤매다": "wandering", "떠다니다": "floating",
    "뜨다": "floating", "가라앉다": "sinking", "잠기다": "flooding", "무너지다": "collapsing",
    "삼키다": "swallowing", "나타나다": "appearing", "사라지다": "vanishing", "울다": "crying",
    "웃다": "laughing", "노래하다": "singing", "춤추다": "dancing", "부르다": "calling",
    "안다": "embracing", "잡다": "holding", "쏟아지다": "pouring down", "내리다": "falling",
    "돌다": "spinning", "빛나다": "glowing", "반짝이다": "sparkling", "불타다": "burning",
    "타오르다": "blazing", "얼다": "frozen", "녹다": "melting", "열리다": "opening", "닫히다": "closing",
    "흔들리다": "shaking", "오르다": "climbing", "올라가다": "climbing", "내려가다": "descending",
    "기다리다": "waiting", "싸우다": "fighting", "소리치다": "shouting",
    "자라다": "growing", "어두워지다": "darkening", "밝아지다": "brightening", "변하다": "transforming",
    "어둡다": "dark", "밝다": "bright", "크다": "giant", "작다": "tiny", "낡다": "old", "오래되다": "old",
    "무섭다": "eerie", "차갑다": "cold", "따뜻하다": "warm", "조용하다": "silent", "아름답다": "beautiful",
    "높다": "towering", "깊다": "deep", "넓다": "vast", "붉다": "red", "빨갛다": "red", "파랗다": "blue",
    "하얗다": "white", "까맣다": "black", "노랗다": "yellow", "거대하다": "colossal",
    "끝없다": "endless", "이상하다": "strange", "신비롭다": "mysterious", "슬프다": "sad",
}

# Revised Romanisation of Korean, syllable by syllable (no sound-change rules; good enough for names).
_INITIALS = ["g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h"]
_VOWELS = [
    "a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo",
    "u", "wo", "we", "wi", "yu", "eu", "ui", "i",
]
_FINALS = [
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l",
    "m", "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t",
]


def romanize(word: str) -> str:
    """Romanise Hangul syllables (명동 -> Myeongdong); other characters pass through."""
    out: list[str] = []
    for ch in word:
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            initial, rest = divmod(code, 588)
            vowel, final = divmod(rest, 28)
            out.append(_INITIALS[initial] + _VOWELS[vowel] + _FINALS[final])
        else:
            out.append(ch)
    return "".join(out).capitalize()


def translate_noun(lemma: str, *, proper: bool = False) -> str | None:
    """English for a Korean noun, a romanised name for an unknown proper noun, else None."""
    if lemma in NOUNS:
        return NOUNS[lemma]
    if proper:
        return romanize(lemma)
    return None


def translate_predicate(lemma: str) -> str | None:
    """English for a Korean verb or adjective in dictionary form (날다 -> flying), else None."""
    return PREDICATES.get(lemma)
