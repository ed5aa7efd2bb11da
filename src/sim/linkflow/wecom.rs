//! WeCom (企业微信) channel QR codes.

use serde_json::json;

use super::reply::{fail, ok_json, Answer};
use super::WECOM_CHANNEL;

pub(super) fn qrcodes(channel: &str) -> Answer {
    if channel != WECOM_CHANNEL {
        return Err(fail(500, "B00022", format!("渠道不存在: {channel}")));
    }
    ok_json(json!([
        {
            "dateCreated": "2022-07-19 10:43:41", "lastUpdated": "2022-09-06 09:57:16", "id": 2,
            "configId": "7c4028ec8fc99597bf28cc8791f9aa71",
            "qrCode": "https://wework.qpic.cn/wwpic/8350_c_NNsuGtQQyhaO4_1658198622/0",
            "tenantId": 1, "channelId": 140926029029409u64,
            "utm": {"source": "新建来源", "campaign": "新建活动", "term": "新建关键字"},
            "contactWay": {"remark": "添加单人", "type": "SINGLE"},
            "isSetWelcomeMessage": false, "workWechatWelcomeMessageId": 17
        },
        {
            "dateCreated": "2022-08-26 16:07:51", "lastUpdated": "2022-08-26 16:07:51", "id": 3,
            "configId": "6e49729729d83fc67ef9cb91715ba14b",
            "qrCode": "https://wework.qpic.cn/wwpic/493891_tr12MGgQTES9Nfs_1661501271/0",
            "tenantId": 1, "channelId": 140926029029409u64,
            "utm": {"source": "", "campaign": "", "term": ""},
            "contactWay": {"remark": "11", "type": "SINGLE"},
            "isSetWelcomeMessage": false
        }
    ]))
}
