//! The fake IGD's documents: the device description, the WANIPConnection:1
//! service description (SCPD), SOAP envelopes, and the arguments of a SOAP
//! request.

use std::collections::BTreeMap;

use super::Device;

pub const SERVICE: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";

/// A SOAP fault carrying a UPnP error (UPnP Device Architecture 1.1 §3.2.2).
pub fn fault(code: u16) -> String {
    envelope(&format!(
        "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>\
         <detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\">\
         <errorCode>{code}</errorCode><errorDescription>{}</errorDescription>\
         </UPnPError></detail></s:Fault>",
        describe(code)
    ))
}

pub fn describe(code: u16) -> &'static str {
    match code {
        401 => "Invalid Action",
        606 => "Action not authorized",
        713 => "SpecifiedArrayIndexInvalid",
        714 => "NoSuchEntryInArray",
        718 => "ConflictInMappingEntry",
        724 => "SamePortValuesRequired",
        725 => "OnlyPermanentLeasesSupported",
        _ => "Error",
    }
}

pub fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>{body}</s:Body>\
         </s:Envelope>\r\n"
    )
}

fn service(kind: &str, id: &str, name: &str) -> String {
    format!(
        "<service><serviceType>urn:schemas-upnp-org:service:{kind}</serviceType>\
         <serviceId>urn:upnp-org:serviceId:{id}</serviceId><SCPDURL>/{name}.xml</SCPDURL>\
         <controlURL>/ctl/{name}</controlURL><eventSubURL>/evt/{name}</eventSubURL></service>"
    )
}

fn device(kind: &str, services: &str, children: &str) -> String {
    format!(
        "<device><deviceType>urn:schemas-upnp-org:device:{kind}</deviceType>\
         <friendlyName>ranat fake {kind}</friendlyName><manufacturer>ranat tests</manufacturer>\
         <modelName>fake</modelName><UDN>uuid:fa4e0000-0000-4000-8000-{:012x}</UDN>\
         <serviceList>{services}</serviceList>{children}</device>",
        kind.len()
    )
}

pub fn description(kind: Device) -> String {
    let root = match kind {
        Device::Igd => {
            let connection = device(
                "WANConnectionDevice:1",
                &service("WANIPConnection:1", "WANIPConn1", "IPConn")
                    .replace("/IPConn.xml", "/WANIPCn.xml"),
                "",
            );
            let wan = device(
                "WANDevice:1",
                &service("WANCommonInterfaceConfig:1", "WANCommonIFC1", "CmnIfCfg"),
                &format!("<deviceList>{connection}</deviceList>"),
            );
            device(
                "InternetGatewayDevice:1",
                &service("Layer3Forwarding:1", "L3Forwarding1", "L3F"),
                &format!("<deviceList>{wan}</deviceList>"),
            )
        }
        Device::NotIgd => device(
            "MediaServer:1",
            &service("ContentDirectory:1", "ContentDirectory", "CDS"),
            "",
        ),
    };
    format!(
        "<?xml version=\"1.0\"?>\r\n<root xmlns=\"urn:schemas-upnp-org:device-1-0\">\
         <specVersion><major>1</major><minor>0</minor></specVersion>{root}</root>\r\n"
    )
}

/// The WANIPConnection:1 actions the fake implements, with their arguments.
pub const SCPD: &str = r#"<?xml version="1.0"?>
<scpd xmlns="urn:schemas-upnp-org:service-1-0"><specVersion><major>1</major><minor>0</minor></specVersion><actionList>
<action><name>GetExternalIPAddress</name><argumentList><argument><name>NewExternalIPAddress</name><direction>out</direction><relatedStateVariable>ExternalIPAddress</relatedStateVariable></argument></argumentList></action>
<action><name>GetStatusInfo</name><argumentList><argument><name>NewConnectionStatus</name><direction>out</direction><relatedStateVariable>ConnectionStatus</relatedStateVariable></argument><argument><name>NewLastConnectionError</name><direction>out</direction><relatedStateVariable>LastConnectionError</relatedStateVariable></argument><argument><name>NewUptime</name><direction>out</direction><relatedStateVariable>Uptime</relatedStateVariable></argument></argumentList></action>
<action><name>AddPortMapping</name><argumentList><argument><name>NewRemoteHost</name><direction>in</direction><relatedStateVariable>RemoteHost</relatedStateVariable></argument><argument><name>NewExternalPort</name><direction>in</direction><relatedStateVariable>ExternalPort</relatedStateVariable></argument><argument><name>NewProtocol</name><direction>in</direction><relatedStateVariable>PortMappingProtocol</relatedStateVariable></argument><argument><name>NewInternalPort</name><direction>in</direction><relatedStateVariable>InternalPort</relatedStateVariable></argument><argument><name>NewInternalClient</name><direction>in</direction><relatedStateVariable>InternalClient</relatedStateVariable></argument><argument><name>NewEnabled</name><direction>in</direction><relatedStateVariable>PortMappingEnabled</relatedStateVariable></argument><argument><name>NewPortMappingDescription</name><direction>in</direction><relatedStateVariable>PortMappingDescription</relatedStateVariable></argument><argument><name>NewLeaseDuration</name><direction>in</direction><relatedStateVariable>PortMappingLeaseDuration</relatedStateVariable></argument></argumentList></action>
<action><name>DeletePortMapping</name><argumentList><argument><name>NewRemoteHost</name><direction>in</direction><relatedStateVariable>RemoteHost</relatedStateVariable></argument><argument><name>NewExternalPort</name><direction>in</direction><relatedStateVariable>ExternalPort</relatedStateVariable></argument><argument><name>NewProtocol</name><direction>in</direction><relatedStateVariable>PortMappingProtocol</relatedStateVariable></argument></argumentList></action>
<action><name>GetGenericPortMappingEntry</name><argumentList><argument><name>NewPortMappingIndex</name><direction>in</direction><relatedStateVariable>PortMappingNumberOfEntries</relatedStateVariable></argument><argument><name>NewExternalPort</name><direction>out</direction><relatedStateVariable>ExternalPort</relatedStateVariable></argument></argumentList></action>
</actionList></scpd>
"#;

/// The `<NewX>value</NewX>` arguments of a SOAP request body.
pub fn arguments(body: &str) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    let mut rest = body;
    while let Some(start) = rest.find("<New") {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let name = &after[..end];
        if let Some(name) = name.strip_suffix('/') {
            args.insert(name.to_string(), String::new());
            rest = &after[end..];
            continue;
        }
        let value = &after[end + 1..];
        let Some(close) = value.find(&format!("</{name}>")) else {
            break;
        };
        let text = value[..close]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        args.insert(name.to_string(), text);
        rest = &value[close..];
    }
    args
}
