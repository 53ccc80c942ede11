"""Fixed vocabulary of the event contract: event types, the 11 steps, channels, asset classes."""

from __future__ import annotations

EVENT_TYPES = ("lead", "step", "call", "deposit", "asset", "trade")
STEPS = tuple(range(1, 12))
OPENED_STEP = 11

STEP_NAMES = {
    1: ("提交手机号", "phone submitted and verified"),
    2: ("上传身份证", "ID card uploaded (OCR)"),
    3: ("填写基本信息", "personal details"),
    4: ("职业与税收居民身份", "occupation and tax residency"),
    5: ("风险测评", "risk-tolerance questionnaire"),
    6: ("适当性匹配与协议签署", "suitability match and agreements signed"),
    7: ("绑定三方存管", "depository bank account bound"),
    8: ("视频见证", "video witness"),
    9: ("设置密码与数字证书", "passwords and digital certificate"),
    10: ("提交审核", "submitted for review"),
    11: ("审核通过·开户成功", "approved: account opened"),
}

# Seed catalogue; admins may add more (unknown codes are still accepted and shown as they are).
CHANNELS = {
    "app_store": ("应用市场", "app stores"),
    "search": ("搜索引擎", "search engines"),
    "douyin": ("抖音", "Douyin"),
    "wechat": ("微信生态", "WeChat ecosystem"),
    "bank_partner": ("银行合作", "partner banks"),
    "internet_platform": ("互联网平台", "internet platforms"),
    "branch_referral": ("营业部推荐", "branch referral"),
    "customer_referral": ("客户推荐", "customer referral"),
}

DEVICES = ("ios", "android", "web", "other")
STEP_STATUSES = ("done", "rejected")
CALL_OUTCOMES = ("connected", "no_answer", "busy", "refused", "invalid")
CALLERS = ("robot", "agent")
DIRECTIONS = ("in", "out")
ASSET_CLASSES = ("stock", "fund", "wealth", "bond", "cash")
LEVELS = tuple(f"V{i}" for i in range(8))
SEGMENTS = ("trading", "wealth", "allocation")
PRODUCTS = ("stock", "fund", "wealth", "bond", "other")

ASSET_CLASS_NAMES = {
    "stock": ("股票", "stocks"),
    "fund": ("基金", "funds"),
    "wealth": ("理财产品", "wealth products"),
    "bond": ("债券", "bonds"),
    "cash": ("现金", "cash"),
    "other": ("其他", "other"),
}
SEGMENT_NAMES = {
    "trading": ("交易型", "trading"),
    "wealth": ("理财型", "wealth"),
    "allocation": ("配置型", "allocation"),
}
# China's provincial-level divisions as the events name them (short names), with their English names.
PROVINCE_NAMES_EN: dict[str, str] = {
    "北京": "Beijing", "天津": "Tianjin", "河北": "Hebei", "山西": "Shanxi", "内蒙古": "Inner Mongolia",
    "辽宁": "Liaoning", "吉林": "Jilin", "黑龙江": "Heilongjiang", "上海": "Shanghai", "江苏": "Jiangsu",
    "浙江": "Zhejiang", "安徽": "Anhui", "福建": "Fujian", "江西": "Jiangxi", "山东": "Shandong",
    "河南": "Henan", "湖北": "Hubei", "湖南": "Hunan", "广东": "Guangdong", "广西": "Guangxi",
    "海南": "Hainan", "重庆": "Chongqing", "四川": "Sichuan", "贵州": "Guizhou", "云南": "Yunnan",
    "西藏": "Tibet", "陕西": "Shaanxi", "甘肃": "Gansu", "青海": "Qinghai", "宁夏": "Ningxia",
    "新疆": "Xinjiang", "台湾": "Taiwan", "香港": "Hong Kong", "澳门": "Macao",
}


def channel_label(code: str, lang: str = "zh") -> str:
    names = CHANNELS.get(code)
    if names is None:
        return code or ("未知" if lang == "zh" else "unknown")
    return names[0] if lang == "zh" else names[1]


def step_label(step: int, lang: str = "zh") -> str:
    zh, en = STEP_NAMES[step]
    return zh if lang == "zh" else en
