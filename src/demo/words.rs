//! Word lists for the demo data set. All of them were written for this project (see NOTICE).

/// Surnames with their pinyin, roughly by frequency.
pub const SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("肖", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("袁", "yuan"),
    ("潘", "pan"),
    ("于", "yu"),
    ("蒋", "jiang"),
    ("蔡", "cai"),
    ("欧阳", "ouyang"),
    ("司马", "sima"),
];

/// Characters used in given names, with pinyin; the first half lean female, the second male,
/// as a loose convention (many are used by both).
pub const GIVEN_FEMALE: &[(&str, &str)] = &[
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("婷", "ting"),
    ("雪", "xue"),
    ("慧", "hui"),
    ("颖", "ying"),
    ("琳", "lin"),
    ("欣", "xin"),
    ("悦", "yue"),
    ("佳", "jia"),
    ("梦", "meng"),
    ("晓", "xiao"),
    ("雨", "yu"),
    ("萱", "xuan"),
    ("思", "si"),
    ("怡", "yi"),
    ("倩", "qian"),
];
pub const GIVEN_MALE: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("浩", "hao"),
    ("宇", "yu"),
    ("鹏", "peng"),
    ("斌", "bin"),
    ("博", "bo"),
    ("建", "jian"),
    ("华", "hua"),
    ("俊", "jun"),
    ("志", "zhi"),
    ("文", "wen"),
];

/// Cities with relative weights (bigger cities have more customers).
pub const CITIES: &[(&str, u32)] = &[
    ("上海", 16),
    ("北京", 15),
    ("广州", 11),
    ("深圳", 11),
    ("杭州", 8),
    ("成都", 8),
    ("武汉", 6),
    ("南京", 6),
    ("重庆", 6),
    ("西安", 5),
    ("苏州", 5),
    ("天津", 4),
    ("长沙", 4),
    ("郑州", 3),
    ("青岛", 3),
];

/// Mobile number prefixes of the main carriers.
pub const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "176", "177", "180", "181", "182", "183", "185", "186", "187",
    "188", "189", "191", "198", "199",
];

pub const EMAIL_DOMAINS: &[(&str, u32)] = &[
    ("qq.com", 40),
    ("163.com", 20),
    ("126.com", 8),
    ("gmail.com", 8),
    ("outlook.com", 6),
    ("sina.com", 5),
    ("foxmail.com", 8),
    ("hotmail.com", 5),
];

pub const SIGNUP_CHANNELS: &[(&str, u32)] = &[
    ("app", 35),
    ("mini_program", 25),
    ("web", 15),
    ("store", 15),
    ("referral", 10),
];

pub const ORDER_CHANNELS: &[(&str, u32)] = &[
    ("app", 40),
    ("mini_program", 25),
    ("web", 15),
    ("store", 20),
];

/// Stores for in-store orders, by city (other cities use their flagship store name).
pub const STORE_SUFFIXES: &[&str] = &["旗舰店", "万达店", "中心店", "东站店"];

/// One product: name, category, unit price in yuan, and how often it is bought.
#[derive(Debug, Clone, Copy)]
pub struct Product {
    pub name: &'static str,
    pub category: &'static str,
    pub price: f64,
    pub weight: u32,
}

const fn p(name: &'static str, category: &'static str, price: f64, weight: u32) -> Product {
    Product {
        name,
        category,
        price,
        weight,
    }
}

pub const CATEGORIES: &[&str] = &[
    "服装", "美妆", "数码", "食品", "母婴", "家居", "运动", "图书",
];

pub const PRODUCTS: &[Product] = &[
    // 服装 apparel
    p("纯棉T恤", "服装", 79.0, 30),
    p("牛仔裤", "服装", 199.0, 20),
    p("羽绒服", "服装", 699.0, 8),
    p("针织衫", "服装", 159.0, 15),
    p("连衣裙", "服装", 259.0, 15),
    p("袜子三双装", "服装", 29.9, 25),
    // 美妆 beauty
    p("面膜", "美妆", 99.0, 30),
    p("精华液", "美妆", 399.0, 15),
    p("口红", "美妆", 239.0, 18),
    p("洗面奶", "美妆", 69.0, 25),
    p("防晒霜", "美妆", 129.0, 15),
    p("卸妆水", "美妆", 89.0, 12),
    // 数码 electronics
    p("手机", "数码", 3299.0, 6),
    p("手机壳", "数码", 39.0, 20),
    p("充电器", "数码", 89.0, 15),
    p("蓝牙耳机", "数码", 499.0, 10),
    p("平板电脑", "数码", 2599.0, 4),
    p("数据线", "数码", 25.0, 22),
    // 食品 food
    p("咖啡豆", "食品", 98.0, 20),
    p("咖啡滤纸", "食品", 19.9, 12),
    p("坚果礼盒", "食品", 128.0, 15),
    p("牛奶整箱", "食品", 69.0, 25),
    p("绿茶", "食品", 158.0, 10),
    p("巧克力", "食品", 45.0, 18),
    // 母婴 baby
    p("婴儿奶粉", "母婴", 298.0, 15),
    p("纸尿裤", "母婴", 139.0, 18),
    p("婴儿湿巾", "母婴", 35.0, 20),
    p("儿童玩具", "母婴", 119.0, 10),
    // 家居 home
    p("床上四件套", "家居", 299.0, 8),
    p("收纳盒", "家居", 49.0, 18),
    p("香薰蜡烛", "家居", 69.0, 10),
    p("牙刷", "家居", 19.9, 25),
    p("牙膏", "家居", 15.9, 25),
    p("毛巾", "家居", 29.9, 20),
    // 运动 sports
    p("跑鞋", "运动", 599.0, 12),
    p("运动袜", "运动", 39.0, 15),
    p("瑜伽垫", "运动", 129.0, 10),
    p("运动水壶", "运动", 59.0, 12),
    // 图书 books
    p("小说", "图书", 45.0, 15),
    p("儿童绘本", "图书", 39.0, 12),
    p("商业管理", "图书", 68.0, 8),
    p("烹饪书", "图书", 55.0, 6),
];

/// Planted co-purchase rules for association-rule mining: when the first product is in a basket,
/// the second is added with the given probability.
pub const CO_PURCHASE: &[(&str, &str, f64)] = &[
    ("手机", "手机壳", 0.70),
    ("手机", "充电器", 0.45),
    ("咖啡豆", "咖啡滤纸", 0.60),
    ("婴儿奶粉", "纸尿裤", 0.65),
    ("纸尿裤", "婴儿湿巾", 0.50),
    ("跑鞋", "运动袜", 0.55),
    ("面膜", "精华液", 0.35),
    ("牙刷", "牙膏", 0.60),
    ("洗面奶", "卸妆水", 0.40),
];

// --- review text -------------------------------------------------------------------------------

pub const ZH_POSITIVE: &[&str] = &[
    "质量很好",
    "物流很快",
    "包装很精美",
    "性价比很高",
    "客服态度非常好",
    "非常满意",
    "做工精细",
    "颜色很正",
    "尺码合适",
    "味道不错",
    "发货速度快",
    "和描述的一样",
    "用起来很顺手",
    "已经回购好几次了",
    "值得推荐",
];
pub const ZH_NEGATIVE: &[&str] = &[
    "质量太差了",
    "物流太慢了",
    "包装破损",
    "客服态度很差",
    "和描述不符",
    "用了两天就坏了",
    "退货很麻烦",
    "尺码偏小",
    "有异味",
    "价格虚高",
    "发错货了",
    "退款一直不到账",
    "做工粗糙",
    "完全不值这个价",
];
pub const ZH_NEUTRAL: &[&str] = &[
    "还行吧",
    "一般般",
    "中规中矩",
    "凑合用",
    "没有想象中好，也不算差",
    "跟别家差不多",
];
pub const ZH_NEGATED_POSITIVE: &[&str] = &["不太满意", "没有想象中好", "并不好用", "不怎么样"];
pub const ZH_POSITIVE_TAIL: &[&str] = &["👍", "好评！", "五星好评", "下次还来", "赞！", "😊"];
pub const ZH_NEGATIVE_TAIL: &[&str] = &["差评！", "[哭]", "无语", "太坑了", "再也不买了", "😡"];

pub const EN_POSITIVE: &[&str] = &[
    "Great quality and fast shipping!",
    "Love it, works perfectly.",
    "Excellent value for money.",
    "Customer service was very helpful.",
    "Exactly as described, very happy.",
    "Really good product, would buy again!",
];
pub const EN_NEGATIVE: &[&str] = &[
    "Terrible quality, broke after two days.",
    "Delivery was very slow and the box was damaged.",
    "Not as described. Very disappointed.",
    "Customer service never answered, never again.",
    "Waste of money.",
    "The refund still has not arrived. AWFUL.",
];
pub const EN_NEUTRAL: &[&str] = &[
    "It's okay, nothing special.",
    "Average product for the price.",
    "Does the job.",
];
pub const MIXED: &[(&str, i32)] = &[
    ("质量不错 but shipping took forever", 3),
    ("好评! Fast delivery", 5),
    ("包装很好, quality is great", 5),
    ("not worth it, 太失望了", 1),
    ("客服态度差, very bad experience", 1),
    ("还可以 I guess", 3),
];
