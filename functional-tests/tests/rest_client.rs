//! A third-party REST client, the `bitcoincore-rest` crate (written for
//! Bitcoin Core, with its own HTTP stack: reqwest over hyper 0.14), reads
//! blocks, a transaction, headers and filter headers from ferronoded.

#![allow(clippy::unwrap_used)]

use bitcoincore_rest::prelude::*;
use ferronode_functional_tests::TestNode;
use serde_json::json;

const ADDRESS: &str = "mjTkW3DjgyZck4KbiRusZsqTgaYTxdSz6z";

#[test]
fn bitcoincore_rest_client_reads_blocks_and_transactions() {
    let mut node = TestNode::start_new(&["-rest", "-txindex", "-blockfilterindex"]);
    let hashes = node.rpc("generatetoaddress", json!([3, ADDRESS]));
    let h1 = hashes[0].as_str().unwrap().to_owned();
    let verbose = node.rpc("getblock", json!([h1, 1]));
    let cb = verbose["tx"][0].as_str().unwrap().to_owned();
    let tx_json = node.rpc("getrawtransaction", json!([cb, 1]));
    let filter_headers: Vec<String> = (0..4)
        .map(|h| {
            let hash = node.rpc("getblockhash", json!([h]));
            node.rpc("getblockfilter", json!([hash]))["header"].as_str().unwrap().to_owned()
        })
        .collect();
    let genesis = node.rpc("getblockhash", json!([0])).as_str().unwrap().to_owned();

    let rest = RestClient::new(format!("http://127.0.0.1:{}/", node.rpc_port)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let block = rest.get_block(h1.parse().unwrap()).await.unwrap();
        assert_eq!(block.block_hash().to_string(), h1);
        assert_eq!(block.header.merkle_root.to_string(), verbose["merkleroot"].as_str().unwrap());
        assert_eq!(block.txdata.len(), 1);
        assert_eq!(block.txdata[0].txid().to_string(), cb);
        let by_height = rest.get_block_at_height(1).await.unwrap();
        assert_eq!(by_height.block_hash().to_string(), h1);

        let tx = rest.get_transaction(cb.parse().unwrap()).await.unwrap();
        assert_eq!(tx.txid().to_string(), cb);
        assert_eq!(tx.wtxid().to_string(), tx_json["hash"].as_str().unwrap(), "witness included");
        assert_eq!(tx.output[0].value, 50 * 100_000_000);

        let headers = rest.get_block_headers(genesis.parse().unwrap(), 10).await.unwrap();
        assert_eq!(headers.len(), 4);
        assert_eq!(headers[1].block_hash().to_string(), h1);

        let fh = rest.get_block_filter_headers(genesis.parse().unwrap(), 4).await.unwrap();
        let fh: Vec<String> = fh.iter().map(ToString::to_string).collect();
        assert_eq!(fh, filter_headers);

        // an unknown block is the client's NotOkError(404)
        let missing = rest.get_block("00".repeat(32).parse().unwrap()).await;
        assert!(matches!(missing, Err(Error::NotOkError(s)) if s.as_u16() == 404));
    });
    node.stop_node();
}
