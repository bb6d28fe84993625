photosearch_test(base_test SOURCES base/metrics_test.cc base/files_test.cc base/utf8_test.cc
  base/json_fields_test.cc
  LIBS ps_base)
photosearch_test(image_test SOURCES image/decode_test.cc LIBS ps_image
  opencv_core opencv_imgcodecs)
photosearch_test(index_test SOURCES index/vector_index_test.cc index/shard_test.cc
  index/tombstones_test.cc LIBS ps_index)
photosearch_test(artifact_test SOURCES artifact/repository_test.cc artifact/sigv4_test.cc
  artifact/manifest_test.cc artifact/s3_xml_test.cc artifact/window_test.cc
  artifact/tombstone_log_test.cc LIBS ps_artifact)
photosearch_test(model_test SOURCES model/manifest_test.cc model/preprocess_test.cc
  model/embedder_test.cc model/detector_test.cc model/detect_policy_test.cc LIBS ps_model)
photosearch_test(serving_test SOURCES serving/shard_manager_test.cc LIBS ps_serving ps_index)
photosearch_test(gateway_test SOURCES gateway/merge_test.cc gateway/fanout_test.cc gateway/http_server_test.cc
  gateway/search_request_test.cc gateway/planner_test.cc
  LIBS ps_gateway ps_pipeline)
photosearch_test(fetch_test SOURCES fetch/fetcher_test.cc LIBS ps_fetch)
photosearch_test(pipeline_test SOURCES pipeline/catalog_test.cc
  pipeline/dag_test.cc pipeline/pipeline_config_test.cc
  LIBS ps_pipeline)
photosearch_test(discovery_test SOURCES discovery/registration_test.cc discovery/etcd_test.cc
  discovery/static_directory_test.cc LIBS ps_discovery TIMEOUT 300)
photosearch_test(ingest_unit_test SOURCES ingest/ingest_test.cc LIBS ps_ingest)
